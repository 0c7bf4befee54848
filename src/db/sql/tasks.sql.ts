/** Tasks (training runs, simulations, auto-label runs): their states as a job runs them. */

import { sql, type SqlStatement } from './statement';

/**
 * Marks a QUEUED task RUNNING (a RUNNING one again, when its job is retried after a crash) and
 * counts the attempt, returning `id` only when the task may run: a finished task is not run twice.
 */
export function claimTask(taskId: string): SqlStatement {
  return sql(
    `UPDATE task SET status = 'RUNNING', attempts = attempts + 1, started_at = coalesce(started_at, now())
       WHERE id = $1 AND status IN ('QUEUED', 'RUNNING') RETURNING id`,
    [taskId],
  );
}

export function failTask(taskId: string, error: string): SqlStatement {
  return sql(`UPDATE task SET status = 'FAILED', error = $2, finished_at = now() WHERE id = $1`, [
    taskId,
    error,
  ]);
}

export function setTaskProgress(taskId: string, done: number, total: number): SqlStatement {
  return sql('UPDATE task SET progress_done = $2, progress_total = $3 WHERE id = $1', [
    taskId,
    done,
    total,
  ]);
}

/** Ends a task in `status`, keeping the model and result it has when none is given. */
export function finishTask(
  taskId: string,
  status: string,
  modelId: string | null,
  result: Record<string, unknown> | null,
): SqlStatement {
  return sql(
    `UPDATE task SET status = $2, model_id = coalesce($3, model_id), result = coalesce($4, result),
         progress_done = coalesce(progress_total, progress_done), finished_at = now()
       WHERE id = $1`,
    [taskId, status, modelId, result],
  );
}
