/**
 * Statements of a sharded round's shards (`round_shard`): how the pool is cut into id ranges,
 * and what each shard job records. Called by `src/jobs/round-shards.ts`.
 */
import { sql, type SqlStatement } from './statement';

/**
 * The last id of each of `shards` equal slices of the dataset's POOL items (eligible or not: the
 * slices are cut once per round, by the `(dataset_id, split, id)` index, whatever the
 * statistics), in id order.
 */
export function shardBounds(datasetId: string, shards: number): SqlStatement {
  return sql(
    `SELECT max(s.id)::text AS "lastId" FROM (
       SELECT i.id, ntile($2) OVER (ORDER BY i.id) AS t FROM item i
       WHERE i.dataset_id = $1 AND i.split = 'POOL'
     ) s GROUP BY s.t ORDER BY s.t`,
    [datasetId, shards],
  );
}

/**
 * Records a round's shards and its selection method, once: a retried round finds its shards
 * already there (the insert does nothing) and carries on with them.
 */
export function insertShards(
  roundId: string,
  ranges: { afterId: string; lastId: string | null }[],
  method: string,
): SqlStatement {
  return sql(
    `WITH r AS (
       UPDATE round SET shards = $4, selection_method = $5::selection_method WHERE id = $1
         AND NOT EXISTS (SELECT 1 FROM round_shard WHERE round_id = $1)
     )
     INSERT INTO round_shard (round_id, shard_index, after_id, last_id)
     SELECT $1, t.n - 1, t.a, t.l FROM unnest($2::bigint[], $3::bigint[]) WITH ORDINALITY AS t(a, l, n)
     ON CONFLICT (round_id, shard_index) DO NOTHING`,
    [roundId, ranges.map((r) => r.afterId), ranges.map((r) => r.lastId), ranges.length, method],
  );
}

/** A round's shards, in order, without their outputs. */
export function roundShards(roundId: string): SqlStatement {
  return sql(
    `SELECT shard_index AS "shardIndex", after_id::text AS "afterId", last_id::text AS "lastId",
            status, error, runner, attempts
     FROM round_shard WHERE round_id = $1 ORDER BY shard_index`,
    [roundId],
  );
}

/** One shard, counted as started by `runner`; nothing when it is no longer PENDING. */
export function startShard(roundId: string, shardIndex: number, runner: string): SqlStatement {
  return sql(
    `UPDATE round_shard SET attempts = attempts + 1, runner = $3, heartbeat_at = now()
     WHERE round_id = $1 AND shard_index = $2 AND status = 'PENDING'
     RETURNING after_id::text AS "afterId", last_id::text AS "lastId"`,
    [roundId, shardIndex, runner],
  );
}

/** The heartbeat of a shard `runner` scores (nothing once it is done or handed to another). */
export function beatShard(roundId: string, shardIndex: number, runner: string): SqlStatement {
  return sql(
    `UPDATE round_shard SET heartbeat_at = now()
     WHERE round_id = $1 AND shard_index = $2 AND status = 'PENDING' AND runner = $3`,
    [roundId, shardIndex, runner],
  );
}

/**
 * The PENDING shards of a round whose process stopped beating more than `staleSeconds` ago (it
 * died), made free for another process: their indexes, to enqueue again.
 */
export function freeStaleShards(roundId: string, staleSeconds: number): SqlStatement {
  return sql(
    `UPDATE round_shard SET runner = NULL, heartbeat_at = NULL
     WHERE round_id = $1 AND status = 'PENDING'
       AND heartbeat_at < now() - make_interval(secs => $2)
     RETURNING shard_index AS "shardIndex"`,
    [roundId, staleSeconds],
  );
}

/** Stores a shard's proposal; only the first run of a shard to finish stores one. */
export function finishShard(
  roundId: string,
  shardIndex: number,
  proposal: unknown[],
  outputs: Buffer | null,
): SqlStatement {
  return sql(
    `UPDATE round_shard SET status = 'DONE', proposal = $3::jsonb, outputs = $4, finished_at = now()
     WHERE round_id = $1 AND shard_index = $2 AND status = 'PENDING'`,
    [roundId, shardIndex, JSON.stringify(proposal), outputs],
  );
}

/** A shard that cannot be scored (its round fails with `error`). */
export function failShard(roundId: string, shardIndex: number, error: string): SqlStatement {
  return sql(
    `UPDATE round_shard SET status = 'FAILED', error = $3, finished_at = now()
     WHERE round_id = $1 AND shard_index = $2 AND status = 'PENDING'`,
    [roundId, shardIndex, error],
  );
}

/** The proposals of a round's shards (all DONE), in shard order. */
export function shardProposals(roundId: string): SqlStatement {
  return sql(`SELECT proposal, outputs FROM round_shard WHERE round_id = $1 ORDER BY shard_index`, [
    roundId,
  ]);
}

/** A round asked for shards whose pool is too small for more than one: one process runs it. */
export function notSharded(roundId: string): SqlStatement {
  return sql(`UPDATE round SET shards = 1, selection_method = 'SINGLE_PROCESS' WHERE id = $1`, [
    roundId,
  ]);
}
