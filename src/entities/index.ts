import { ApiKey } from './ApiKey';
import { Dataset } from './Dataset';
import { IdempotencyRecord } from './IdempotencyRecord';
import { Item } from './Item';
import { Label } from './Label';
import { LabelQuery } from './LabelQuery';
import { Model } from './Model';
import { Prediction } from './Prediction';
import { QuerySkip } from './QuerySkip';
import { QuerySlot } from './QuerySlot';
import { Round } from './Round';
import { Stream } from './Stream';
import { StreamDecision } from './StreamDecision';
import { Task } from './Task';

export {
  ApiKey,
  Dataset,
  IdempotencyRecord,
  Item,
  Label,
  LabelQuery,
  Model,
  Prediction,
  QuerySkip,
  QuerySlot,
  Round,
  Stream,
  StreamDecision,
  Task,
};
export * from './enums';

/** Every entity, listed explicitly (no globs). */
export const ENTITIES = [
  ApiKey,
  Dataset,
  IdempotencyRecord,
  Item,
  Label,
  LabelQuery,
  Model,
  Prediction,
  QuerySkip,
  QuerySlot,
  Round,
  Stream,
  StreamDecision,
  Task,
];
