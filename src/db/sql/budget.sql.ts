/**
 * Statements of the label budget: the dataset row that guards it, and the ledger of its units.
 * Read by `src/services/budget.ts`, the only caller.
 */
import { sql, type SqlStatement } from './statement';
import { RUNNING_ROUND } from './rounds.sql';

/**
 * Locks the dataset's budget until the transaction ends and reads what the check needs.
 *
 * `FOR NO KEY UPDATE` conflicts with itself and with `UPDATE dataset` (so budget spenders of one
 * dataset take turns, and a change of `label_budget` waits for them), but not with the `KEY SHARE`
 * lock a foreign-key check takes: items, labels and answers of the dataset are written while a
 * budget check runs, and a job that locks the budget and then items (auto-label) cannot deadlock
 * with an answer that locks items and then checks the label's foreign key.
 */
export function lockBudget(datasetId: string): SqlStatement {
  return sql(
    `SELECT label_budget AS total, annotations_per_item AS "annotationsPerItem"
     FROM dataset WHERE id = $1 FOR NO KEY UPDATE`,
    [datasetId],
  );
}

/**
 * Each dataset's units: `spent` (answers given), `held` (unanswered slots of open queries under
 * a live lease), `owed` (unanswered slots of open queries, held or not), `reserved` (rounds still
 * running: size × annotations per item; their queries are not written yet). Slots are counted
 * through `query_slot(dataset_id)`; held and owed in one pass.
 */
export function budgetLedgers(datasetIds: readonly string[]): SqlStatement {
  return sql(
    `SELECT d.id AS "datasetId", d.label_budget AS total,
       (SELECT count(*)::int FROM query_slot s WHERE s.dataset_id = d.id AND s.answered_at IS NOT NULL) AS spent,
       o.held, o.owed,
       (SELECT coalesce(sum(r.size), 0)::int FROM round r
         WHERE r.dataset_id = d.id AND r.status IN ${RUNNING_ROUND}) * d.annotations_per_item AS reserved
     FROM dataset d
     CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE s.lease_expires_at > now())::int AS held, count(*)::int AS owed
       FROM query_slot s JOIN label_query q ON q.id = s.query_id
       WHERE s.dataset_id = d.id AND s.answered_at IS NULL AND q.status = 'OPEN'
     ) o
     WHERE d.id = ANY($1::uuid[])`,
    [datasetIds],
  );
}

/** The same units (without reservations) by the mechanism of the query's round. */
export function budgetsByMechanism(datasetIds: readonly string[]): SqlStatement {
  return sql(
    `SELECT s.dataset_id AS "datasetId", r.mechanism,
            count(*) FILTER (WHERE s.answered_at IS NOT NULL)::int AS spent,
            count(*) FILTER (WHERE s.answered_at IS NULL AND q.status = 'OPEN'
                               AND s.lease_expires_at > now())::int AS held,
            count(*) FILTER (WHERE s.answered_at IS NULL AND q.status = 'OPEN')::int AS owed
     FROM query_slot s JOIN label_query q ON q.id = s.query_id JOIN round r ON r.id = q.round_id
     WHERE s.dataset_id = ANY($1::uuid[])
     GROUP BY s.dataset_id, r.mechanism ORDER BY r.mechanism`,
    [datasetIds],
  );
}
