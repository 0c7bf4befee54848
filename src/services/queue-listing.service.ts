import type { DataSource, EntityManager } from 'typeorm';
import type { ApiKey, LabelQuery } from '../entities';
import { BadUserInputError } from '../errors';
import { Permission } from './permissions';
import { DatasetService } from './dataset.service';
import { isBigintId, isUuid } from '../db/db-errors';
import { pageSize, type Page } from './pagination';
import {
  openQueryCount,
  queriesByIds,
  queueCounts,
  queuePage,
  type QueuePosition,
} from '../db/sql/queries.sql';
import type { QueueCounts } from './event-bus';
import { run } from '../db/sql/statement';
import { answersByQueryIds, progressByQueryIds } from '../db/sql/slots.sql';
import * as budget from './budget';
import { runManyByKey } from './by-key';

/** A query row as the queue lists it, with the model whose prediction is its pre-label. */
export interface QueueQuery extends LabelQuery {
  /** The round's first model: its prediction of the item is the query's pre-label. */
  preLabelModelId: string | null;
}

export interface QueryAnswer {
  queryId: string;
  annotatorId: string;
  classIndex: number;
  answeredAt: Date;
}

/*
 * Order of the queue: the newest open round first (a newer round was chosen with a newer model),
 * then by rank (1 = the item the strategy wanted most). Claims hand out in the same order.
 */

/** Largest rank a cursor may name (ranks are PostgreSQL integers). */
const MAX_INT32 = 2 ** 31 - 1;

function encodeQueueCursor(c: QueuePosition): string {
  return Buffer.from(`lq:${c.t}:${c.r}:${c.k}`).toString('base64url');
}

function decodeQueueCursor(cursor: string | null | undefined): QueuePosition | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const parts = Buffer.from(cursor, 'base64url').toString().split(':');
  const [kind, t, r, k] = parts;
  // t is a bigint (microseconds), k an integer rank: larger numbers are no cursor of ours.
  if (
    parts.length !== 4 ||
    kind !== 'lq' ||
    !isBigintId(t) ||
    !isUuid(r) ||
    !/^\d{1,10}$/.test(k) ||
    Number(k) > MAX_INT32
  ) {
    throw new BadUserInputError(`after: ${JSON.stringify(cursor)} is not a cursor of this queue.`);
  }
  return { t, r, k: Number(k) };
}

/**
 * Reading label queues: a dataset's queue page by page, queries by id, and the per-query and
 * per-dataset batch reads behind the API's DataLoaders. Writes nothing.
 */
export class QueueListingService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
  ) {}

  /** The dataset's open, held and answered query counts (a `queueChanged` snapshot). */
  async counts(key: ApiKey, datasetId: string): Promise<QueueCounts> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_DATASET);
    const [row] = await run<QueueCounts>(this.ds, queueCounts(dataset.id));
    return row;
  }

  /** A page of the dataset's open queries in queue order. */
  async queue(
    key: ApiKey,
    datasetId: string,
    first?: number | null,
    after?: string | null,
  ): Promise<Page<QueueQuery>> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_DATASET);
    const limit = pageSize(first);
    const cursor = decodeQueueCursor(after);
    const page = queuePage(dataset.id, limit + 1, cursor);
    const rows: (QueueQuery & { t: string })[] = await run(this.ds, page);
    const nodes = rows.slice(0, limit);
    return {
      nodes,
      cursors: nodes.map((n) => encodeQueueCursor({ t: n.t, r: n.roundId, k: n.rank })),
      hasNextPage: rows.length > limit,
      hasPreviousPage: cursor !== undefined,
      totalCount: async () => {
        const count = openQueryCount(dataset.id);
        const [{ n }] = await run<{ n: number }>(this.ds, count);
        return n;
      },
    };
  }

  /** Queries by id, in the order given; ids that match no query are left out. */
  async queriesByIds(ids: readonly string[], m: EntityManager = this.ds.manager) {
    const s = queriesByIds(ids);
    const rows: QueueQuery[] = await run(m, s);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id)!).filter(Boolean);
  }

  /** Datasets' budgets (see `./budget`, the one definition), for DataLoader. */
  async budgets(datasetIds: readonly string[]): Promise<(budget.DatasetBudget | null)[]> {
    return budget.readBudgets(this.ds.manager, datasetIds);
  }

  /** Each dataset's budget use by mechanism (see `./budget`), for DataLoader. */
  async budgetsByMechanism(datasetIds: readonly string[]): Promise<budget.MechanismBudget[][]> {
    return budget.budgetsByMechanism(this.ds.manager, datasetIds);
  }

  /** Each query's answers so far, for DataLoader. */
  async answersByQueryIds(queryIds: readonly string[]): Promise<QueryAnswer[][]> {
    const answers = answersByQueryIds(queryIds);
    return runManyByKey(this.ds, queryIds, answers, (r: QueryAnswer) => r.queryId);
  }

  /** Live claims and answers of each query, for DataLoader. */
  async progressByQueryIds(
    queryIds: readonly string[],
  ): Promise<{ answered: number; held: number }[]> {
    const s = progressByQueryIds(queryIds);
    const rows: { queryId: string; answered: number; held: number }[] = await this.ds.query(
      s.text,
      s.values,
    );
    const byQuery = new Map(rows.map((r) => [r.queryId, r]));
    return queryIds.map((id) => byQuery.get(id) ?? { answered: 0, held: 0 });
  }
}
