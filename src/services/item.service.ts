import type { DataSource, EntityManager } from 'typeorm';
import type { DatabaseKind } from '../db/database';
import { copyImportedItems, encodeImportedItems } from '../db/item-copy';
import { ApiKey, Dataset, Item, ItemOrigin, ItemSplit, LabelSource } from '../entities';
import { BadUserInputError, InputProblem } from '../errors';
import { Permission } from './permissions';
import { FeatureBlock } from './features';
import { DatasetService } from './dataset.service';
import { isBigintId, pgCode, PG_UNIQUE_VIOLATION } from '../db/db-errors';
import {
  decodeCursor,
  keysetPage,
  pagesByParent,
  pageSize,
  type ListPage,
  type Page,
} from './pagination';
import {
  featuresByIds,
  allocateItemIds,
  insertImportedItems,
  itemById,
  itemListing,
  itemsByIds,
  takenExternalIds,
} from '../db/sql/items.sql';
import { insertImportLabels } from '../db/sql/labels.sql';
import {
  predictionCountOfItem,
  predictionPagesByItemIds,
  predictionsByModelItem,
} from '../db/sql/models.sql';
import { run, type Queryable } from '../db/sql/statement';
import { lengthProblem } from './validate';
import { runOneByKey } from './by-key';
import { refreshItemStatistics, refreshStatistics } from '../db/statistics';

/** The cursor kind of `Item.predictions` (a model version). */
const PREDICTION_CURSOR = 'prediction';

export interface ImportItemInput {
  externalId: string;
  payload?: unknown;
  features?: number[] | null;
  featuresBase64?: string | null;
  split?: ItemSplit | null;
  /** A class name: the item arrives labelled (source IMPORT). */
  label?: string | null;
  /** A class name kept hidden: only simulations and evaluation read it. */
  groundTruth?: string | null;
}

export interface ImportResult {
  importedCount: number;
  labelledCount: number;
  /** The new items' ids, in input order. */
  itemIds: string[];
}

export interface ItemFilter {
  split?: ItemSplit | null;
  labelled?: boolean | null;
  externalIds?: string[] | null;
  origin?: ItemOrigin | null;
}

export type ItemRow = Omit<Item, 'features' | 'dataset' | 'groundTruth'>;

export interface PredictionRow {
  itemId: string;
  modelId: string;
  datasetId: string;
  predictedClass: number;
  confidence: number;
  createdAt: Date;
}

const EXTERNAL_ID_LENGTH = { min: 1, max: 512 };
/** Feature values one import call may carry (128 MiB of float32, decoded before any write). */
export const MAX_IMPORT_VALUES = 32 * 1024 * 1024;

/**
 * Adds a problem for each of `items` whose external id the dataset already has: an import (or a
 * stream) refuses them all before writing anything.
 */
export async function takenExternalIdProblems(
  m: Queryable,
  datasetId: string,
  items: readonly ImportItemInput[],
  problems: InputProblem[],
): Promise<void> {
  const existing = await run<{ external_id: string }>(
    m,
    takenExternalIds(
      datasetId,
      items.map((i) => i.externalId),
    ),
  );
  const taken = new Set(existing.map((r) => r.external_id));
  items.forEach((item, index) => {
    if (taken.has(item.externalId)) {
      problems.push({
        index,
        id: item.externalId,
        field: 'externalId',
        message: 'an item with this external id already exists in the dataset',
      });
    }
  });
}

/**
 * Checks items to import against the dataset and decodes their features into one block: the
 * problems found (each naming the item and field), the features, and each item's label and
 * ground-truth class index. Writes nothing; external ids already in the dataset are not checked.
 */
export function checkImportItems(dataset: Dataset, items: ImportItemInput[]) {
  const problems: InputProblem[] = [];
  const block = new FeatureBlock(items.length, dataset.featureDim);
  const classes = new Map(dataset.classes.map((c, i) => [c, i]));
  const classIndex: (number | undefined)[] = new Array(items.length);
  const truthIndex: (number | null)[] = new Array(items.length).fill(null);
  const firstIndex = new Map<string, number>();
  items.forEach((item, index) => {
    const id = item.externalId;
    const problem = (field: string, message: string) =>
      problems.push({ index, id, field, message });
    // A file import may give a number (or nothing) where a string belongs: it counts as empty.
    const idProblem = lengthProblem(typeof id === 'string' ? id : '', EXTERNAL_ID_LENGTH);
    if (idProblem) {
      problem('externalId', idProblem);
    } else if (firstIndex.has(id)) {
      problem('externalId', `duplicates item #${firstIndex.get(id)} of this call`);
    } else {
      firstIndex.set(id, index);
    }
    const hasList = item.features !== undefined && item.features !== null;
    const hasB64 = item.featuresBase64 !== undefined && item.featuresBase64 !== null;
    if (hasList === hasB64) {
      problem('features', 'give exactly one of features and featuresBase64');
    } else {
      const why = hasList
        ? block.setFromList(index, item.features!)
        : block.setFromBase64(index, item.featuresBase64!);
      if (why) problem(hasList ? 'features' : 'featuresBase64', why);
    }
    const classOf = (field: 'label' | 'groundTruth', name: string): number | undefined => {
      const c = classes.get(name);
      if (c === undefined) {
        problem(
          field,
          `${JSON.stringify(name)} is not a class of this dataset (${dataset.classes.join(', ')})`,
        );
      }
      return c;
    };
    if (item.label !== undefined && item.label !== null) {
      classIndex[index] = classOf('label', item.label);
    }
    if (item.groundTruth !== undefined && item.groundTruth !== null) {
      truthIndex[index] = classOf('groundTruth', item.groundTruth) ?? null;
    }
  });
  return { block, classIndex, truthIndex, problems };
}

/** Items: bulk import and listing. */
export class ItemService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
    private readonly maxImportItems: number,
    /** On PostgreSQL items are written by binary COPY; PGlite keeps the INSERT. */
    private readonly dbKind: DatabaseKind = 'pglite',
  ) {}

  /** Writes the checked items; returns their ids in `items` order. */
  private async writeItems(
    m: EntityManager,
    datasetId: string,
    items: ImportItemInput[],
    features: (i: number) => Buffer,
    truthIndex: (number | null)[],
    newIds: Promise<{ ids: string }[]> | undefined,
  ): Promise<string[]> {
    if (newIds) {
      // Ids in import order, then one binary COPY (see src/db/item-copy.ts).
      const [{ ids: text }] = await newIds;
      const ids = text
        .split(',')
        .map(BigInt)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const data = encodeImportedItems(
        datasetId,
        items.map((item, i) => ({
          id: ids[i],
          externalId: item.externalId,
          payload: JSON.stringify(item.payload ?? {}),
          features: features(i),
          split: item.split ?? ItemSplit.POOL,
          groundTruth: truthIndex[i] ?? null,
        })),
      );
      await copyImportedItems(m, data);
      return ids.map(String);
    }
    const inserted = await run<{ id: string; external_id: string }>(
      m,
      insertImportedItems(datasetId, {
        externalIds: items.map((i) => i.externalId),
        payloads: items.map((i) => JSON.stringify(i.payload ?? {})),
        features: items.map((_, i) => features(i)),
        splits: items.map((i) => i.split ?? ItemSplit.POOL),
        groundTruths: truthIndex,
      }),
    );
    const idByExternal = new Map(inserted.map((r) => [r.external_id, r.id]));
    return items.map((i) => idByExternal.get(i.externalId)!);
  }

  /**
   * Imports up to `maxImportItems` items in one transaction. Every item is checked first; any
   * problem rejects the whole call with BAD_USER_INPUT listing the offending items, and nothing
   * is written.
   */
  async importItems(
    key: ApiKey,
    datasetId: string,
    items: ImportItemInput[],
  ): Promise<ImportResult> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.WRITE_DATASET);
    if (items.length > this.maxImportItems) {
      throw new BadUserInputError(
        `importItems takes at most ${this.maxImportItems} items a call; got ${items.length}. Send them in batches.`,
      );
    }
    if (items.length === 0) return { importedCount: 0, labelledCount: 0, itemIds: [] };
    if (items.length * dataset.featureDim > MAX_IMPORT_VALUES) {
      throw new BadUserInputError(
        `${items.length} items of ${dataset.featureDim} values are more than one call may carry (${MAX_IMPORT_VALUES} values); send fewer items per call.`,
      );
    }
    // On PostgreSQL the new ids are asked for before the items are checked, so that the database
    // draws them while the decoding runs; a sequence is not transactional, so a refused call
    // only leaves a gap in the ids, as any rolled-back insert does.
    const newIds =
      this.dbKind === 'postgres'
        ? run<{ ids: string }>(this.ds, allocateItemIds(items.length))
        : undefined;
    newIds?.catch(() => undefined);
    const { block, classIndex, truthIndex, problems } = checkImportItems(dataset, items);
    if (problems.length > 0) throw BadUserInputError.forProblems('items', problems);

    try {
      return await this.ds.transaction(async (m) => {
        const itemIds = await this.writeItems(
          m,
          dataset.id,
          items,
          (i) => block.rowBytes(i),
          truthIndex,
          newIds,
        );
        const poolRows = items.filter((i) => (i.split ?? ItemSplit.POOL) === ItemSplit.POOL).length;
        await refreshItemStatistics(m, dataset.id, {
          poolRows,
          otherRows: items.length - poolRows,
        });
        const labelled = items.map((_, i) => i).filter((i) => classIndex[i] !== undefined);
        if (labelled.length > 0) {
          await run(
            m,
            insertImportLabels(
              dataset.id,
              LabelSource.IMPORT,
              key.id,
              labelled.map((i) => itemIds[i]),
              labelled.map((i) => classIndex[i]),
            ),
          );
          await refreshStatistics(m, 'label', labelled.length);
        }
        return { importedCount: itemIds.length, labelledCount: labelled.length, itemIds };
      });
    } catch (e) {
      if (pgCode(e) === PG_UNIQUE_VIOLATION) {
        // The unique (dataset_id, external_id) index is the check of existing external ids: a
        // look-up of every id before the write cost as much as a third of the write itself.
        // The transaction is rolled back; name the items now.
        await takenExternalIdProblems(this.ds, dataset.id, items, problems);
        if (problems.length > 0) throw BadUserInputError.forProblems('items', problems);
        throw new BadUserInputError(
          'Some external ids were imported by another request at the same time; nothing was written. Retry to see which.',
        );
      }
      throw e;
    }
  }

  /** A page of a dataset's items in id order (import order). */
  readonly list: ListPage<ItemFilter, ItemRow> = async (key, datasetId, filter, first, after) => {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_DATASET);
    return keysetPage<ItemRow>(this.ds, {
      ...itemListing(dataset.id, filter),
      kind: 'item',
      first,
      after,
    });
  };

  /**
   * One item, checked against the key's scope. An item outside a scoped key's datasets reads as
   * missing: item ids are sequential, so FORBIDDEN would tell the key which ids exist elsewhere.
   */
  async get(key: ApiKey, id: string): Promise<ItemRow | null> {
    if (!isBigintId(id)) return null;
    const [row] = await run<ItemRow>(this.ds, itemById(id));
    if (!row) return null;
    if (key.datasetIds && !key.datasetIds.includes(row.datasetId)) return null;
    await this.datasets.getAuthorized(key, row.datasetId, Permission.READ_DATASET);
    return row;
  }

  /** Items by id, for DataLoader: rows in the order of `ids`, null where missing. */
  async byIds(ids: readonly string[]): Promise<(ItemRow | null)[]> {
    return runOneByKey(this.ds, ids, itemsByIds(ids), (r: ItemRow) => r.id);
  }

  /** Each item's predictions (one per model that scored it), newest model version first. */
  /**
   * A page of each item's latest predictions, newest model version first (`Item.predictions`),
   * for DataLoader: the same `first` and `after` for every item of the batch.
   */
  async predictionPagesByIds(
    ids: readonly string[],
    first?: number | null,
    after?: string | null,
  ): Promise<Page<PredictionRow>[]> {
    const limit = pageSize(first);
    const before = decodeCursor(PREDICTION_CURSOR, after);
    const rows = await run<PredictionRow & { version: number }>(
      this.ds,
      predictionPagesByItemIds(ids, before === undefined ? null : Number(before), limit + 1),
    );
    return pagesByParent(ids, rows, {
      limit,
      kind: PREDICTION_CURSOR,
      parentOf: (r) => String(r.itemId),
      positionOf: (r) => String(r.version),
      hasPreviousPage: before !== undefined,
      count: async (id) => (await run<{ n: number }>(this.ds, predictionCountOfItem(id)))[0].n,
    });
  }

  /** One model's prediction of each item, keyed `<modelId>:<itemId>`, for DataLoader. */
  async predictionsByModelItem(keys: readonly string[]): Promise<(PredictionRow | null)[]> {
    const pairs = keys.map((k) => k.split(':'));
    const rows = await run<PredictionRow>(
      this.ds,
      predictionsByModelItem(
        pairs.map((p) => p[0]),
        pairs.map((p) => p[1]),
      ),
    );
    const byKey = new Map(rows.map((r) => [`${r.modelId}:${r.itemId}`, r]));
    return keys.map((k) => byKey.get(k) ?? null);
  }

  /** Feature bytes by item id, for DataLoader. */
  async featuresByIds(ids: readonly string[]): Promise<(Buffer | null)[]> {
    const rows = await run<{ id: string; features: Buffer }>(this.ds, featuresByIds(ids));
    const byId = new Map(rows.map((r) => [r.id, r.features]));
    return ids.map((id) => byId.get(id) ?? null);
  }
}
