/** Tasks (training runs, simulations, auto-label runs): their states as a job runs them. */

import { sql, type SqlStatement } from './statement';
import { Conditions, type Listing } from './pages.sql';

/**
 * Marks a QUEUED task RUNNING (a RUNNING one again when its runner stopped beating for
 * `staleSeconds`: its process died) and counts the attempt, returning `id` only when the task
 * may run: a finished task is not run twice, nor one still running elsewhere.
 */
export function claimTask(taskId: string, staleSeconds: number): SqlStatement {
  return sql(
    `UPDATE task SET status = 'RUNNING', attempts = attempts + 1, started_at = coalesce(started_at, now()),
         heartbeat_at = now()
       WHERE id = $1 AND (status = 'QUEUED' OR (status = 'RUNNING'
         AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $2))))
       RETURNING id`,
    [taskId, staleSeconds],
  );
}

/** The task's runner is alive. */
export function beatTask(taskId: string): SqlStatement {
  return sql('UPDATE task SET heartbeat_at = now() WHERE id = $1', [taskId]);
}

/** A stopping process hands its running task back: QUEUED, for the retried job to take at once. */
export function handBackTask(taskId: string): SqlStatement {
  return sql(
    `UPDATE task SET status = 'QUEUED', heartbeat_at = NULL WHERE id = $1 AND status = 'RUNNING'`,
    [taskId],
  );
}

/**
 * Ends a task whose job was retried too often, FAILED with `error`: one still waiting (QUEUED),
 * or RUNNING with a heartbeat older than `staleSeconds` (its last process died). A task still
 * beating elsewhere, or already ended, is left alone (no row back).
 */
export function giveUpTask(taskId: string, staleSeconds: number, error: string): SqlStatement {
  return sql(
    `UPDATE task SET status = 'FAILED', error = $3, heartbeat_at = NULL, finished_at = now()
       WHERE id = $1 AND (status = 'QUEUED' OR (status = 'RUNNING'
         AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $2))))
       RETURNING id`,
    [taskId, staleSeconds, error],
  );
}

/** A task's status, unlocked. */
export function taskStatus(taskId: string): SqlStatement {
  return sql('SELECT status FROM task WHERE id = $1', [taskId]);
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

/** A dataset's tasks of one kind, newest first (ix_task_dataset). */
export function taskListing(datasetId: string, kind: string): Listing {
  return {
    table: 'task',
    columns: 'id',
    where: new Conditions()
      .add((p) => `dataset_id = ${p}::uuid`, datasetId)
      .add((p) => `kind = ${p}`, kind),
    sortBy: { column: 'created_at', type: 'timestamptz' },
    descending: true,
    idType: 'uuid',
  };
}
