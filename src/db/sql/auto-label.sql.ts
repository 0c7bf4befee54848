/**
 * Statements of auto-label runs: the task row a run is stored in, the labels it writes and
 * revokes, and its audit. Called by `src/jobs/auto-label.task.ts` and the auto-label service.
 */
import { sql, type SqlStatement } from './statement';

/** The run's task row, locked: one of the job's finish and a revoke goes on at a time. */
export function lockRun(taskId: string): SqlStatement {
  return sql('SELECT status, result FROM task WHERE id = $1 FOR UPDATE', [taskId]);
}

/** Progress: `done` of `total` items scored (`total` kept when null). */
export function runProgress(taskId: string, done: number, total: number | null): SqlStatement {
  return sql(
    'UPDATE task SET progress_done = $2, progress_total = coalesce($3, progress_total) WHERE id = $1',
    [taskId, done, total],
  );
}

/** The run succeeded with `result`, every scored item counted. */
export function succeedRun(taskId: string, result: unknown, scored: number): SqlStatement {
  return sql(
    `UPDATE task SET status = 'SUCCEEDED', result = $2, progress_done = $3, progress_total = $3,
         finished_at = now() WHERE id = $1`,
    [taskId, result, scored],
  );
}

/** Stores a run's result (after a revoke). */
export function setRunResult(taskId: string, result: unknown): SqlStatement {
  return sql('UPDATE task SET result = $2 WHERE id = $1', [taskId, result]);
}

/**
 * Locks items in id order, as every label writer does (`writeCurrentLabels`), so that two
 * writers of one item wait for each other instead of deadlocking.
 */
export function lockItems(itemIds: readonly string[]): SqlStatement {
  return sql('SELECT 1 FROM item WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE', [
    itemIds,
  ]);
}

/** The items carrying a current label of the run, locked like {@link lockItems}. */
export function lockRunItems(taskId: string): SqlStatement {
  return sql(
    `SELECT 1 FROM item WHERE id IN (SELECT item_id FROM label WHERE run_id = $1 AND superseded_at IS NULL)
     ORDER BY id FOR NO KEY UPDATE`,
    [taskId],
  );
}

/** Supersedes the run's current MODEL labels; returns their ids. */
export function supersedeRunLabels(taskId: string): SqlStatement {
  return sql(
    `UPDATE label SET superseded_at = now()
     WHERE run_id = $1 AND source = 'MODEL' AND superseded_at IS NULL RETURNING id`,
    [taskId],
  );
}

/**
 * Makes current again the older MODEL labels the labels `revokedIds` replaced. A run superseded
 * an item's older MODEL label in the transaction that wrote its own, so that label's
 * superseded_at is exactly the run label's created_at (now() of that transaction). Only labels
 * of runs not revoked themselves come back.
 */
export function restoreReplacedLabels(revokedIds: readonly string[]): SqlStatement {
  return sql(
    `UPDATE label p SET superseded_at = NULL
     FROM label r
     WHERE r.id = ANY($1::bigint[]) AND p.item_id = r.item_id AND p.source = 'MODEL'
       AND p.id < r.id AND p.superseded_at = r.created_at
       AND NOT EXISTS (SELECT 1 FROM task t WHERE t.id = p.run_id AND t.result->>'revokedAt' IS NOT NULL)
     RETURNING p.id`,
    [revokedIds],
  );
}

/**
 * The run's audit by the class of its label: answered audit queries, and how many of them the
 * people answered with the run's class.
 */
export function auditByClass(auditRoundId: string, taskId: string): SqlStatement {
  return sql(
    `SELECT l.class_index AS c, count(*)::int AS audited,
            count(*) FILTER (WHERE q.resolved_class = l.class_index)::int AS agreed
     FROM label_query q
     JOIN label l ON l.item_id = q.item_id AND l.run_id = $2 AND l.source = 'MODEL'
     WHERE q.round_id = $1 AND q.status = 'ANSWERED'
     GROUP BY l.class_index`,
    [auditRoundId, taskId],
  );
}
