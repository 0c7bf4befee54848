import type { EntityManager } from 'typeorm';
import { Dataset, QueryMechanism, Round, RoundStatus } from '../entities';
import { BudgetExhaustedError } from '../errors';
import { QueueEventKind, type EventBus } from './event-bus';
import { budgetInUse } from './round.service';

/** One query of a batch: the item, and the score and reason a person labelling it sees. */
export interface BatchQuery {
  itemId: string;
  score: number;
  reason: Record<string, unknown>;
}

/**
 * Takes the dataset's budget lock (inside the caller's transaction) and returns the units still
 * free for new queries: the budget minus answers given and answers owed to open queries; null
 * when the dataset has no budget. Every creator of queries calls this first.
 */
export async function freeBudget(m: EntityManager, dataset: Dataset): Promise<number | null> {
  // The same lock startRound and round opening take: one budget check at a time per dataset.
  await m.query('SELECT 1 FROM dataset WHERE id = $1 FOR UPDATE', [dataset.id]);
  if (dataset.labelBudget === null) return null;
  const inUse = await budgetInUse(m, dataset.id);
  return Math.max(0, dataset.labelBudget - inUse);
}

/** BUDGET_EXHAUSTED unless `units` are free (see {@link freeBudget}). */
export async function requireFreeBudget(
  m: EntityManager,
  dataset: Dataset,
  units: number,
  what: string,
): Promise<void> {
  const free = await freeBudget(m, dataset);
  if (free !== null && units > free) {
    throw new BudgetExhaustedError(
      `${what} needs ${units} budget units, but only ${free} of ${dataset.labelBudget} remain. Nothing was created; ask for fewer or raise the dataset's labelBudget.`,
    );
  }
}

/**
 * Opens a batch of label queries made by a mechanism other than a pool round (stream, audit,
 * synthesis), inside the caller's transaction: a round row (status OPEN at once, no job) that
 * holds them, its queries ranked in the given order, their slots (one per answer each needs),
 * and the queue event. The caller has checked the budget (see {@link requireFreeBudget}).
 */
export async function openQueryBatch(
  m: EntityManager,
  events: EventBus,
  opts: {
    dataset: Dataset;
    mechanism: QueryMechanism;
    /** Shown as the round's strategy, e.g. `audit`, `stream:variable-threshold`, `synthesis:smote`. */
    label: string;
    params?: Record<string, unknown>;
    modelIds?: string[];
    queries: BatchQuery[];
    createdBy: string | null;
  },
): Promise<{ roundId: string; queryIdByItem: Map<string, string> }> {
  const round = await m.getRepository(Round).save({
    datasetId: opts.dataset.id,
    strategy: opts.label,
    params: opts.params ?? {},
    size: opts.queries.length,
    modelIds: opts.modelIds ?? [],
    mechanism: opts.mechanism,
    status: RoundStatus.OPEN,
    seed: 0,
    createdBy: opts.createdBy,
    error: null,
    startedAt: new Date(),
    finishedAt: new Date(),
    itemsTotal: opts.queries.length,
    itemsScored: opts.queries.length,
  });
  const rows: { id: string; itemId: string }[] = await m.query(
    `INSERT INTO label_query (dataset_id, round_id, item_id, rank, score, reason, answers_needed)
     SELECT $1, $2, t.i, t.n, t.s, t.j, $6
     FROM unnest($3::bigint[], $4::float8[], $5::jsonb[]) WITH ORDINALITY AS t(i, s, j, n)
     ORDER BY t.n
     RETURNING id, item_id AS "itemId"`,
    [
      opts.dataset.id,
      round.id,
      opts.queries.map((q) => q.itemId),
      opts.queries.map((q) => q.score),
      opts.queries.map((q) => JSON.stringify(q.reason)),
      opts.dataset.annotationsPerItem,
    ],
  );
  await m.query(
    `INSERT INTO query_slot (query_id, dataset_id, slot)
     SELECT q.id, q.dataset_id, g FROM label_query q, generate_series(1, q.answers_needed) AS g
     WHERE q.round_id = $1`,
    [round.id],
  );
  await events.publish(m, {
    type: 'queue',
    kind: QueueEventKind.ROUND_OPENED,
    datasetId: opts.dataset.id,
    roundId: round.id,
    queryIds: [],
  });
  return { roundId: round.id, queryIdByItem: new Map(rows.map((r) => [r.itemId, r.id])) };
}
