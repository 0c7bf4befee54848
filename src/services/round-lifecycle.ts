/**
 * A round's batch of queries, opened and closed in one place: pool rounds (the runner),
 * streams, audits and synthesis open one; cancelling a round and revoking an auto-label run
 * close one.
 */
import type { EntityManager } from 'typeorm';
import { QueryMechanism, Round, RoundStatus } from '../entities';
import type { EventBus } from './event-bus';
import { QueueEventKind } from './event-bus';
import type { LockedBudget } from './budget';
import * as roundsSql from '../db/sql/rounds.sql';
import { returnedRows } from '../db/db-errors';
import { run, type Queryable } from '../db/sql/statement';
import { refreshStatistics } from '../db/statistics';

/** One query of a batch: the item, and the score and reason a person labelling it sees. */
export interface BatchQuery {
  itemId: string;
  score: number;
  reason: Record<string, unknown>;
}

/**
 * Writes a round's queries, ranked in the given order, each needing `answersNeeded` answers,
 * their slots and the queue's ROUND_OPENED event, inside the caller's transaction (which holds
 * the budget lock). Returns each item's query id.
 */
export async function writeQueries(
  m: Queryable,
  events: EventBus | undefined,
  opts: { datasetId: string; roundId: string; answersNeeded: number; queries: BatchQuery[] },
): Promise<Map<string, string>> {
  const insert = roundsSql.insertQueries(
    opts.datasetId,
    opts.roundId,
    {
      itemIds: opts.queries.map((q) => q.itemId),
      // The driver sends ±Infinity as text; float8 reads it back.
      scores: opts.queries.map((q) =>
        Number.isFinite(q.score) ? q.score : q.score > 0 ? 'Infinity' : '-Infinity',
      ),
      reasons: opts.queries.map((q) => JSON.stringify(q.reason ?? {})),
    },
    opts.answersNeeded,
  );
  const rows = returnedRows<{ id: string; itemId: string }>(await run(m, insert));
  await run(m, roundsSql.insertSlots(opts.roundId));
  // A claim walks the new round's queue by its index only if the planner knows the rows exist.
  await refreshStatistics(m, 'label_query', rows.length);
  await refreshStatistics(m, 'query_slot', rows.length * opts.answersNeeded);
  await events?.publish(m, {
    type: 'queue',
    kind: QueueEventKind.ROUND_OPENED,
    datasetId: opts.datasetId,
    roundId: opts.roundId,
    queryIds: [],
  });
  return new Map(rows.map((r) => [r.itemId, r.id]));
}

/**
 * Opens a batch of label queries made by a mechanism other than a pool round (stream, audit,
 * synthesis), inside the caller's transaction: a round row (OPEN at once, no job) that holds
 * them, then {@link writeQueries}. The caller has locked and checked the budget: `budget` is
 * what {@link reserveForQueries} (or `lockBudget`) returned, and gives the answers each query
 * needs as the dataset says now.
 */
export async function openQueryBatch(
  m: EntityManager,
  events: EventBus,
  opts: {
    budget: LockedBudget;
    mechanism: QueryMechanism;
    /** Shown as the round's strategy, e.g. `audit`, `stream:variable-threshold`, `synthesis:smote`. */
    label: string;
    params?: Record<string, unknown>;
    modelIds?: string[];
    queries: BatchQuery[];
    createdBy: string | null;
    seed?: number;
  },
): Promise<{ roundId: string; queryIdByItem: Map<string, string> }> {
  const round = await m.getRepository(Round).save({
    datasetId: opts.budget.datasetId,
    strategy: opts.label,
    params: opts.params ?? {},
    size: opts.queries.length,
    modelIds: opts.modelIds ?? [],
    mechanism: opts.mechanism,
    status: RoundStatus.OPEN,
    seed: opts.seed ?? 0,
    createdBy: opts.createdBy,
    error: null,
    startedAt: new Date(),
    finishedAt: new Date(),
    itemsTotal: opts.queries.length,
    itemsScored: opts.queries.length,
  });
  const queryIdByItem = await writeQueries(m, events, {
    datasetId: opts.budget.datasetId,
    roundId: round.id,
    answersNeeded: opts.budget.annotationsPerItem,
    queries: opts.queries,
  });
  return { roundId: round.id, queryIdByItem };
}

/**
 * Closes a round that is in one of `from` (the caller holds the lock that makes it the only
 * closer: the round's row for a cancel, the run's task row for a revoke): its open queries are
 * cancelled (their unanswered slots stop being owed, so their units are free again; answers
 * given stay), the round ends CANCELLED, and the queue's ROUND_CLOSED and the round's new state
 * are published. Returns how many queries were cancelled.
 */
export async function closeRound(
  m: Queryable,
  events: EventBus,
  round: { id: string; datasetId: string },
  from: readonly RoundStatus[],
): Promise<number> {
  const cancelled = returnedRows(await run(m, roundsSql.cancelOpenQueries(round.id))).length;
  await run(m, roundsSql.cancelRound(round.id, from));
  if (from.includes(RoundStatus.OPEN)) {
    await events.publish(m, {
      type: 'queue',
      kind: QueueEventKind.ROUND_CLOSED,
      datasetId: round.datasetId,
      roundId: round.id,
      queryIds: [],
    });
  }
  await events.publishRound(m, round.id);
  return cancelled;
}
