import { ApiKeyResolver } from './ApiKeyResolver';
import { DatasetResolver } from './DatasetResolver';
import { ItemResolver } from './ItemResolver';
import { LabelResolver } from './LabelResolver';
import { ModelResolver } from './ModelResolver';
import { RoundResolver } from './RoundResolver';

export const RESOLVERS = [
  ApiKeyResolver,
  DatasetResolver,
  ItemResolver,
  LabelResolver,
  ModelResolver,
  RoundResolver,
] as const;
