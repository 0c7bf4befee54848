import { ApiKey } from './api-key.entity';
import { Dataset } from './dataset.entity';
import { IdempotencyRecord } from './idempotency-record.entity';
import { Item } from './item.entity';
import { Label } from './label.entity';
import { LabelQuery } from './label-query.entity';
import { Model } from './model.entity';
import { Prediction } from './prediction.entity';
import { QuerySkip } from './query-skip.entity';
import { QuerySlot } from './query-slot.entity';
import { Round } from './round.entity';
import { RoundShard } from './round-shard.entity';
import { Stream } from './stream.entity';
import { StreamDecision } from './stream-decision.entity';
import { Task } from './task.entity';
import { Webhook } from './webhook.entity';
import { WebhookDelivery } from './webhook-delivery.entity';

export * from './api-key.entity';
export * from './dataset.entity';
export * from './idempotency-record.entity';
export * from './item.entity';
export * from './label.entity';
export * from './label-query.entity';
export * from './model.entity';
export * from './prediction.entity';
export * from './query-skip.entity';
export * from './query-slot.entity';
export * from './round.entity';
export * from './round-shard.entity';
export * from './stream.entity';
export * from './stream-decision.entity';
export * from './task.entity';
export * from './webhook.entity';
export * from './webhook-delivery.entity';
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
  RoundShard,
  Stream,
  StreamDecision,
  Task,
  Webhook,
  WebhookDelivery,
];
