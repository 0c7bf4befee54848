import DataLoader from 'dataloader';
import type { ApiKey, Dataset, Label } from '../entities';
import type { Services } from '../services';
import type { Round } from '../entities';
import type { QueryAnswer, QueueQuery } from '../services/queue-listing.service';
import type { DatasetBudget, MechanismBudget } from '../services/budget';
import type { ItemRow, PredictionRow } from '../services/item.service';
import type { StrategyRegistry } from '../strategies/registry';
import type { TrainerRegistry } from '../plugins/trainers/registry';
import { oneByKey } from '../services/by-key';
import type { Page } from '../services/pagination';

/** A nested connection's loaders: `of(first, after).load(parentId)`. */
export interface PageLoaders<T> {
  of(first?: number | null, after?: string | null): DataLoader<string, Page<T>>;
}

function pageLoaders<T>(
  batch: (
    ids: readonly string[],
    first?: number | null,
    after?: string | null,
  ) => Promise<Page<T>[]>,
): PageLoaders<T> {
  const loaders = new Map<string, DataLoader<string, Page<T>>>();
  return {
    of(first, after) {
      const key = JSON.stringify([first ?? null, after ?? null]);
      let loader = loaders.get(key);
      if (!loader) {
        loader = new DataLoader((ids) => batch(ids, first, after));
        loaders.set(key, loader);
      }
      return loader;
    },
  };
}

/** Per-request batching of nested fields: one SQL statement per field per page, not per node. */
export interface Loaders {
  dataset: DataLoader<string, Dataset | null>;
  itemFeatures: DataLoader<string, Buffer | null>;
  itemLabel: DataLoader<string, Label | null>;
  /** `Item.labels` pages: one loader per (first, after), so a page's items batch together. */
  itemLabels: PageLoaders<Label>;
  /** A round's queries settled by their answers. */
  roundSettled: DataLoader<string, number>;
  /** Label queries by id, as the queue shows them. */
  query: DataLoader<string, QueueQuery | null>;
  item: DataLoader<string, ItemRow | null>;
  itemPredictions: PageLoaders<PredictionRow>;
  /** Keyed `<modelId>:<itemId>`. */
  prediction: DataLoader<string, PredictionRow | null>;
  round: DataLoader<string, Round | null>;
  /** A model's version number (null when there is no such model). */
  modelVersion: DataLoader<string, number | null>;
  budget: DataLoader<string, DatasetBudget | null>;
  budgetByMechanism: DataLoader<string, MechanismBudget[]>;
  queryAnswers: DataLoader<string, QueryAnswer[]>;
  queryProgress: DataLoader<string, { answered: number; held: number }>;
}

/** What one request's log line says, filled in as the request goes through the layers. */
export interface RequestRecord {
  /** The request id: the caller's `x-request-id` when it is a sane one, else a new uuid. */
  id: string;
  /** The API key's id (never the key). */
  keyId?: string;
  operationName?: string;
  operationType?: string;
  /** The first error's code, when the answer carries errors. */
  errorCode?: string;
}

/** What every resolver gets. Requests without a valid key never reach a resolver. */
export interface GraphQLContext {
  /** The request's log record (HTTP requests only). */
  request?: RequestRecord;
  key: ApiKey;
  services: Services;
  registry: StrategyRegistry;
  trainers: TrainerRegistry;
  loaders: Loaders;
}

export function createLoaders(
  services: Services,
  datasetsById: (ids: readonly string[]) => Promise<(Dataset | null)[]>,
): Loaders {
  return {
    dataset: new DataLoader(datasetsById),
    itemFeatures: new DataLoader((ids) => services.items.featuresByIds(ids)),
    itemLabel: new DataLoader((ids) => services.labels.resolvedByItemIds(ids)),
    itemLabels: pageLoaders((ids, first, after) =>
      services.labels.historyPagesByItemIds(ids, first, after),
    ),
    roundSettled: new DataLoader((ids) => services.rounds.settledCounts(ids)),
    query: new DataLoader(async (ids: readonly string[]) => {
      const rows = await services.queues.queriesByIds(ids);
      return oneByKey(ids, rows, (r) => r.id);
    }),
    item: new DataLoader((ids) => services.items.byIds(ids)),
    itemPredictions: pageLoaders((ids, first, after) =>
      services.items.predictionPagesByIds(ids, first, after),
    ),
    prediction: new DataLoader((keys) => services.items.predictionsByModelItem(keys)),
    round: new DataLoader((ids) => services.rounds.byIds(ids)),
    modelVersion: new DataLoader((ids) => services.models.versionsByIds(ids)),
    budget: new DataLoader((ids) => services.queues.budgets(ids)),
    budgetByMechanism: new DataLoader((ids) => services.queues.budgetsByMechanism(ids)),
    queryAnswers: new DataLoader((ids) => services.queues.answersByQueryIds(ids)),
    queryProgress: new DataLoader((ids) => services.queues.progressByQueryIds(ids)),
  };
}
