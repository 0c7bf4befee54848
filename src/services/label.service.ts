import type { DataSource, EntityManager } from 'typeorm';
import { ApiKey, Dataset, Label, LabelSource, WebhookEventKind } from '../entities';
import type { EventBus } from './event-bus';
import { BadUserInputError, InputProblem } from '../errors';
import { Permission } from './permissions';
import { DatasetService } from './dataset.service';
import { isBigintId } from '../db/db-errors';
import { withIdempotency } from './idempotency';
import {
  decodeCursor,
  keysetPage,
  pagesByParent,
  pageSize,
  type ListPage,
  type Page,
} from './pagination';
import { itemsByIdOrExternalId } from '../db/sql/items.sql';
import {
  currentLabelsPage,
  insertCurrentLabels,
  labelCountOfItem,
  labelPagesByItemIds,
  labelListing,
  labelsByIds,
  lockItemsForLabels,
  resolvedLabelsByItemIds,
  supersedeCurrentLabels,
  type NewLabels,
} from '../db/sql/labels.sql';
import { run } from '../db/sql/statement';
import { lengthProblem } from './validate';
import { runOneByKey } from './by-key';
import { refreshStatistics } from '../db/statistics';

/** The cursor kind of `Item.labels` (a label id). */
const ITEM_LABEL_CURSOR = 'itemLabel';

export interface LabelItemInput {
  itemId?: string | null;
  externalId?: string | null;
  /** A class name of the dataset. */
  value: string;
  confidence?: number | null;
  annotatorId?: string | null;
}

export interface LabelFilter {
  source?: LabelSource | null;
  /** Only labels that are current (not superseded); default true. */
  current?: boolean | null;
  itemIds?: string[] | null;
}

export interface LabelItemsResult {
  labelIds: string[];
  replayed: boolean;
}

export type { NewLabels };

/** The sources a script may write through `labelItems`. */
const BULK_SOURCES = new Set<string>([LabelSource.HUMAN, LabelSource.IMPORT]);

/**
 * Writes each item's new current label from `source`, superseding the one it had (kept as
 * history), inside the caller's transaction. Every writer of labels goes through here: two
 * writers labelling the same item at once would each see no current label of the other and
 * collide on uq_label_current_per_source, so the items are locked first, in id order (so
 * overlapping writers cannot deadlock), which makes the later writer supersede the earlier.
 * NO KEY UPDATE leaves other writers' foreign-key checks on these items unblocked.
 * Returns the new label ids in input order.
 */
export async function writeCurrentLabels(m: EntityManager, l: NewLabels): Promise<string[]> {
  if (l.itemIds.length === 0) return [];
  await run(m, lockItemsForLabels(l.itemIds));
  await run(m, supersedeCurrentLabels(l.itemIds, l.source));
  const rows = await run<{ id: string }>(m, insertCurrentLabels(l));
  await refreshStatistics(m, 'label', rows.length);
  return rows.map((r) => r.id);
}

/** Labels: bulk writes, listings, an item's label and history, export. */
export class LabelService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
    private readonly maxLabelItems: number,
    /** Where LABEL_CREATED goes (the webhook outbox). */
    private readonly events?: EventBus,
  ) {}

  /**
   * Writes one label per entry, all or nothing. A new label supersedes the item's current label
   * from the same source (kept as history). Safe to retry with the same idempotency key.
   */
  async labelItems(
    key: ApiKey,
    datasetId: string,
    labels: LabelItemInput[],
    source: LabelSource,
    idempotencyKey?: string | null,
  ): Promise<LabelItemsResult> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.WRITE_LABELS);
    if (!BULK_SOURCES.has(source)) {
      throw new BadUserInputError(
        `labelItems writes HUMAN or IMPORT labels; got source ${source}.`,
      );
    }
    if (labels.length > this.maxLabelItems) {
      throw new BadUserInputError(
        `labelItems takes at most ${this.maxLabelItems} labels a call; got ${labels.length}. Send them in batches.`,
      );
    }
    const { response, replayed } = await withIdempotency(
      this.ds,
      `labelItems:${dataset.id}:${key.id}`,
      idempotencyKey,
      { labels, source },
      async (m) => {
        const itemIds = await this.resolveTargets(dataset, labels, m);
        if (labels.length === 0) return { labelIds: [] as string[] };
        const classes = new Map(dataset.classes.map((c, i) => [c, i]));
        const ids = await writeCurrentLabels(m, {
          datasetId: dataset.id,
          source,
          apiKeyId: key.id,
          itemIds,
          classIndexes: labels.map((l) => classes.get(l.value)!),
          annotatorIds: labels.map((l) => l.annotatorId ?? null),
          confidences: labels.map((l) => l.confidence ?? null),
        });
        const labelIds = ids.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
        await this.events?.occurred(m, {
          datasetId: dataset.id,
          kind: WebhookEventKind.LABEL_CREATED,
          data: { source, count: labelIds.length, labelIds },
        });
        return { labelIds };
      },
    );
    return { labelIds: response.labelIds, replayed };
  }
  /** Item ids for each entry, or BAD_USER_INPUT naming every entry that cannot be written. */
  private async resolveTargets(
    dataset: Dataset,
    labels: LabelItemInput[],
    m = this.ds.manager,
  ): Promise<string[]> {
    const problems: InputProblem[] = [];
    const classes = new Set(dataset.classes);
    labels.forEach((l, index) => {
      const hasId = l.itemId !== undefined && l.itemId !== null;
      const hasExt = l.externalId !== undefined && l.externalId !== null;
      const id = l.itemId ?? l.externalId ?? undefined;
      if (hasId === hasExt)
        problems.push({ index, id, message: 'give exactly one of itemId and externalId' });
      if (!classes.has(l.value)) {
        problems.push({
          index,
          id,
          field: 'value',
          message: `${JSON.stringify(l.value)} is not a class of this dataset (${dataset.classes.join(', ')})`,
        });
      }
      if (
        l.confidence !== undefined &&
        l.confidence !== null &&
        !(l.confidence >= 0 && l.confidence <= 1)
      ) {
        problems.push({
          index,
          id,
          field: 'confidence',
          message: `must be between 0 and 1; got ${l.confidence}`,
        });
      }
      const annotatorProblem =
        l.annotatorId === undefined || l.annotatorId === null
          ? undefined
          : lengthProblem(l.annotatorId);
      if (annotatorProblem) {
        problems.push({ index, id, field: 'annotatorId', message: annotatorProblem });
      }
    });
    const ids = labels.map((l) => l.itemId).filter((x): x is string => !!x && isBigintId(x));
    const exts = labels.map((l) => l.externalId).filter((x): x is string => !!x);
    const rows = await run<{ id: string; external_id: string }>(
      m,
      itemsByIdOrExternalId(dataset.id, ids, exts),
    );
    const byId = new Set(rows.map((r) => r.id));
    const byExt = new Map(rows.map((r) => [r.external_id, r.id]));
    const seen = new Map<string, number>();
    const itemIds = labels.map((l, index) => {
      let itemId: string | undefined;
      if (l.itemId !== undefined && l.itemId !== null) {
        itemId = byId.has(l.itemId) ? l.itemId : undefined;
        if (!itemId)
          problems.push({
            index,
            id: l.itemId,
            field: 'itemId',
            message: 'no item with this id in the dataset',
          });
      } else if (l.externalId !== undefined && l.externalId !== null) {
        itemId = byExt.get(l.externalId);
        if (!itemId)
          problems.push({
            index,
            id: l.externalId,
            field: 'externalId',
            message: 'no item with this external id in the dataset',
          });
      }
      if (itemId) {
        if (seen.has(itemId)) {
          problems.push({
            index,
            id: l.itemId ?? l.externalId ?? undefined,
            message: `labels the same item as entry #${seen.get(itemId)}`,
          });
        }
        seen.set(itemId, index);
      }
      return itemId ?? '';
    });
    if (problems.length > 0) throw BadUserInputError.forProblems('labels', problems);
    return itemIds;
  }

  /** A page of a dataset's labels in the order they were written. */
  readonly list: ListPage<LabelFilter, Label> = async (key, datasetId, filter, first, after) => {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_LABELS);
    const listing = labelListing(dataset.id, {
      ...filter,
      itemIds: filter.itemIds?.filter(isBigintId),
    });
    return keysetPage<Label>(this.ds, { ...listing, kind: 'label', first, after });
  };

  /** Each item's label (its current label of the highest-ranked source), for DataLoader. */
  async resolvedByItemIds(itemIds: readonly string[]): Promise<(Label | null)[]> {
    return runOneByKey(this.ds, itemIds, resolvedLabelsByItemIds(itemIds), (r: Label) => r.itemId);
  }

  /** Every label each item ever had, newest first, for DataLoader. */
  /**
   * A page of each item's labels, newest first (`Item.labels`), for DataLoader: the same `first`
   * and `after` for every item of the batch. The item was authorised when it was read.
   */
  async historyPagesByItemIds(
    itemIds: readonly string[],
    first?: number | null,
    after?: string | null,
  ): Promise<Page<Label>[]> {
    const limit = pageSize(first);
    const before = decodeCursor(ITEM_LABEL_CURSOR, after);
    const rows = await run<Label>(this.ds, labelPagesByItemIds(itemIds, before ?? null, limit + 1));
    return pagesByParent(itemIds, rows, {
      limit,
      kind: ITEM_LABEL_CURSOR,
      parentOf: (r) => String(r.itemId),
      positionOf: (r) => String(r.id),
      hasPreviousPage: before !== undefined,
      count: async (itemId) => (await run<{ n: number }>(this.ds, labelCountOfItem(itemId)))[0].n,
    });
  }

  async byIds(ids: readonly string[]): Promise<Label[]> {
    return run<Label>(this.ds, labelsByIds(ids));
  }

  /**
   * The current label of every labelled item of a dataset, in item order, a page at a time (so
   * an export of millions of rows never holds them all, nor the database connection).
   */
  async *exportCurrent(
    key: ApiKey,
    datasetId: string,
    batchSize = 5000,
  ): AsyncGenerator<ExportRow[]> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_LABELS);
    let afterItem = '0';
    for (;;) {
      const rows = await run<ExportRow>(
        this.ds,
        currentLabelsPage(dataset.id, afterItem, batchSize),
      );
      if (rows.length === 0) return;
      for (const r of rows) r.label = dataset.classes[r.classIndex];
      yield rows;
      afterItem = rows[rows.length - 1].itemId;
      if (rows.length < batchSize) return;
    }
  }
}

export interface ExportRow {
  itemId: string;
  externalId: string;
  split: string;
  origin: string;
  classIndex: number;
  label?: string;
  source: string;
  annotatorId: string | null;
  modelId: string | null;
  confidence: number | null;
  createdAt: Date;
}
