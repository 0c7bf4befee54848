/**
 * The label budget, written once: its named quantities, its lock, and its checks. Every mechanism
 * that spends units (pool rounds, claims and answers, streams, audits, synthesis) and every
 * reader (`dataset.budget`, `streamItems.budgetRemaining`, the refusals) goes through this module.
 *
 * A dataset's `labelBudget` (total) is split into:
 * - `spent`: answers given to queries;
 * - `owed`: answers still owed to open queries (one per unanswered slot), of which `held` are
 *   under a live claim;
 * - `reserved`: answers the rounds still running will ask for (size × annotationsPerItem; their
 *   queries are not written yet);
 * - `remaining` = total − spent − owed − reserved: what new queries (a round, a stream batch,
 *   audits, synthetic items) may still promise. It is the one "remaining" the API shows:
 *   `dataset.budget.remaining`, `streamItems.budgetRemaining` and every refusal ("only N of T
 *   remain") agree.
 *
 * Claims take units already promised to open queries, so they are checked against
 * `claimable` = total − spent − held instead, which stays internal: it only bites when the
 * total was lowered below what open queries had been promised.
 *
 * One lock: the dataset row, `FOR NO KEY UPDATE` (see {@link lockBudget} and
 * `src/db/sql/budget.sql.ts` for why this strength), taken by every check inside the caller's
 * transaction, and held until it ends, so that two spenders of one dataset never both see the
 * same units free.
 */
import { BudgetExhaustedError } from '../errors';
import * as budgetSql from '../db/sql/budget.sql';
import { run, type Queryable } from '../db/sql/statement';

/** A dataset's budget and its use, in answer units; `remaining` and `claimable` null without one. */
export interface DatasetBudget {
  datasetId: string;
  total: number | null;
  /** Answers given. */
  spent: number;
  /** Unanswered slots of open queries under a live claim (part of `owed`). */
  held: number;
  /** Answers still owed to open queries, held or not. */
  owed: number;
  /** Answers the rounds still running will ask for. */
  reserved: number;
  /** What claims may still take: total − spent − held, at least 0. */
  claimable: number | null;
  /** What new queries may still promise: total − spent − owed − reserved, at least 0. */
  remaining: number | null;
}

/** A budget read under its lock, with what a check needs of the dataset as it is now. */
export interface LockedBudget extends DatasetBudget {
  annotationsPerItem: number;
}

/** Budget use of one mechanism (pool round, stream, audit, synthesis) of a dataset. */
export interface MechanismBudget {
  mechanism: string;
  spent: number;
  held: number;
  /** Answers still owed to open queries (unclaimed or held). */
  owed: number;
}

/** What a request asks of the budget, for its refusal: see {@link BudgetExhaustedError}. */
export interface BudgetAsk {
  /** The request, as the subject of a sentence: `A round of 20 queries (1 answer each)`. */
  what: string;
  /** What to do short of raising the budget: `start a smaller round`. */
  instead: string;
}

type Ledger = Omit<DatasetBudget, 'claimable' | 'remaining'>;

function withDerived(l: Ledger): DatasetBudget {
  const left = (used: number) => (l.total === null ? null : Math.max(0, l.total - used));
  return {
    ...l,
    claimable: left(l.spent + l.held),
    remaining: left(l.spent + l.owed + l.reserved),
  };
}

/** The budgets of datasets by id (null for an unknown id), without locking; for DataLoader. */
export async function readBudgets(
  m: Queryable,
  datasetIds: readonly string[],
): Promise<(DatasetBudget | null)[]> {
  const rows: Ledger[] = await run(m, budgetSql.budgetLedgers(datasetIds));
  const byId = new Map(rows.map((r) => [r.datasetId, withDerived(r)]));
  return datasetIds.map((id) => byId.get(id) ?? null);
}

/**
 * Locks the dataset's budget until the caller's transaction ends and reads it. Every budget
 * check of every mechanism starts here; take it before locking items (the order answers use).
 */
export async function lockBudget(m: Queryable, datasetId: string): Promise<LockedBudget> {
  const [row]: { annotationsPerItem: number }[] = await run(m, budgetSql.lockBudget(datasetId));
  if (!row) throw new Error(`dataset ${datasetId} does not exist`);
  const [budget] = await readBudgets(m, [datasetId]);
  return { ...budget!, annotationsPerItem: row.annotationsPerItem };
}

/** BUDGET_EXHAUSTED unless `units` are {@link DatasetBudget.remaining} for new queries. */
export function requireRemaining(budget: DatasetBudget, units: number, ask: BudgetAsk): void {
  if (budget.remaining !== null && units > budget.remaining)
    throw shortfall(budget, units, budget.remaining, ask);
}

/** BUDGET_EXHAUSTED unless `units` {@link DatasetBudget.claimable} may be claimed. */
export function requireClaimable(budget: DatasetBudget, units: number, ask: BudgetAsk): void {
  if (budget.claimable !== null && units > budget.claimable) {
    throw shortfall(budget, units, budget.claimable, ask);
  }
}

/** Takes the budget lock and requires `units` remaining for new queries; returns the budget read. */
export async function reserveForQueries(
  m: Queryable,
  datasetId: string,
  units: number,
  ask: BudgetAsk,
): Promise<LockedBudget> {
  const budget = await lockBudget(m, datasetId);
  requireRemaining(budget, units, ask);
  return budget;
}

function shortfall(b: DatasetBudget, needed: number, left: number, ask: BudgetAsk) {
  const error = new BudgetExhaustedError({
    ...ask,
    needed,
    left,
    total: b.total!,
    spent: b.spent,
    held: b.held,
    owed: b.owed,
    reserved: b.reserved,
  });
  error.datasetId = b.datasetId;
  return error;
}

/** Each dataset's budget use by mechanism, for DataLoader. */
export async function budgetsByMechanism(
  m: Queryable,
  datasetIds: readonly string[],
): Promise<MechanismBudget[][]> {
  const rows: (MechanismBudget & { datasetId: string })[] = await run(
    m,
    budgetSql.budgetsByMechanism(datasetIds),
  );
  const byDataset = new Map<string, MechanismBudget[]>(datasetIds.map((id) => [id, []]));
  for (const { datasetId, ...r } of rows) byDataset.get(datasetId)?.push(r);
  return datasetIds.map((id) => byDataset.get(id)!);
}

/** `n answer(s)`, for the requests' descriptions. */
export function answers(n: number): string {
  return `${n} answer${n === 1 ? '' : 's'}`;
}
