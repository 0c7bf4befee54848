/**
 * Statements over label queries (`label_query`): the queue page, queries by id, and a query's
 * status changes. Their slots (claims and answers) are in `slots.sql.ts`.
 */
import { sql, type SqlStatement } from './statement';

/**
 * The columns of a query as the queue lists it, over `label_query q` joined to its `round r`
 * (the round's first model gives the pre-label). For the statements of this layer only.
 */
export const QUEUE_QUERY_COLUMNS = `q.id, q.dataset_id AS "datasetId", q.round_id AS "roundId", q.item_id AS "itemId",
  q.rank, q.score, q.reason, q.status, q.created_at AS "createdAt", q.answered_at AS "answeredAt",
  q.answers_needed AS "answersNeeded", q.resolved_class AS "resolvedClass",
  r.model_ids[1] AS "preLabelModelId"`;

/** Where a queue page starts after: the round's creation time (µs since the epoch), id, rank. */
export interface QueuePosition {
  t: string;
  r: string;
  k: number;
}

/**
 * Up to `limit` open queries of a dataset in queue order (newest open round first, then rank),
 * after `after` when given; each row carries its round's time `t` for the next cursor.
 */
export function queuePage(datasetId: string, limit: number, after?: QueuePosition): SqlStatement {
  const values: unknown[] = [datasetId, limit];
  let keyset = '';
  if (after) {
    values.push(after.t, after.r, after.k);
    keyset = `AND (r.t < $3::bigint OR (r.t = $3::bigint AND (r.id < $4::uuid OR (r.id = $4::uuid AND q.rank > $5))))`;
  }
  // Each open round's queue is read in rank order through its index (ix_label_query_queue,
  // partial on status = 'OPEN'), newest round first, and only as far as the page needs: never a
  // sort of the whole queue.
  return sql(
    `SELECT x.*, r.t::text AS t
     FROM (SELECT id, created_at, model_ids, (extract(epoch FROM created_at) * 1000000)::bigint AS t
           FROM round WHERE dataset_id = $1 AND status = 'OPEN') r
     CROSS JOIN LATERAL (
       SELECT ${QUEUE_QUERY_COLUMNS}
       FROM label_query q
       WHERE q.dataset_id = $1 AND q.round_id = r.id AND q.status = 'OPEN' ${keyset}
       ORDER BY q.rank
       LIMIT $2
     ) x
     ORDER BY r.created_at DESC, r.id DESC, x.rank
     LIMIT $2`,
    values,
  );
}

/** How many open queries a dataset has (`n`). */
export function openQueryCount(datasetId: string): SqlStatement {
  return sql(
    `SELECT count(*)::int AS n FROM label_query WHERE dataset_id = $1 AND status = 'OPEN'`,
    [datasetId],
  );
}

/** Queries by id, in no particular order; missing ids are absent. */
export function queriesByIds(ids: readonly string[]): SqlStatement {
  return sql(
    `SELECT ${QUEUE_QUERY_COLUMNS} FROM label_query q JOIN round r ON r.id = q.round_id
     WHERE q.id = ANY($1::bigint[])`,
    [ids],
  );
}

/** One query with its dataset's class names (`classes`). */
export function queryWithClasses(queryId: string): SqlStatement {
  return sql(
    `SELECT ${QUEUE_QUERY_COLUMNS}, d.classes FROM label_query q
     JOIN round r ON r.id = q.round_id JOIN dataset d ON d.id = q.dataset_id
     WHERE q.id = $1`,
    [queryId],
  );
}

/** A query's status, its row locked until the transaction ends. */
export function lockQueryStatus(queryId: string): SqlStatement {
  return sql('SELECT status FROM label_query WHERE id = $1 FOR UPDATE', [queryId]);
}

/** Marks a query ANSWERED with a reviewer's class. */
export function answerQuery(queryId: string, classIndex: number): SqlStatement {
  return sql(
    `UPDATE label_query SET status = 'ANSWERED', resolved_class = $2, answered_at = now() WHERE id = $1`,
    [queryId, classIndex],
  );
}

/**
 * Settles a query whose answers are all in (ANSWERED, or NEEDS_REVIEW on a tie) and notifies
 * `channel` with `payload`, returning its `answeredAt`.
 */
export function settleQuery(
  queryId: string,
  status: string,
  resolvedClass: number | null,
  [channel, payload]: [string, string],
): SqlStatement {
  // The query's new state and its event in one statement (one round trip fewer per answer).
  return sql(
    `WITH u AS (UPDATE label_query SET status = $2, resolved_class = $3, answered_at = now()
                WHERE id = $1 RETURNING answered_at)
     SELECT u.answered_at AS "answeredAt", pg_notify($4, $5) FROM u`,
    [queryId, status, resolvedClass, channel, payload],
  );
}

/**
 * A dataset's queue counts for a `queueChanged` snapshot: open queries, those of them held by a
 * live claim, answered queries.
 */
export function queueCounts(datasetId: string): SqlStatement {
  return sql(
    `SELECT count(*) FILTER (WHERE q.status = 'OPEN')::int AS open,
            count(*) FILTER (WHERE q.status = 'OPEN' AND EXISTS (
              SELECT 1 FROM query_slot s WHERE s.query_id = q.id AND s.answered_at IS NULL
                AND s.claim_token IS NOT NULL AND s.lease_expires_at > now()))::int AS held,
            count(*) FILTER (WHERE q.status = 'ANSWERED')::int AS answered
       FROM label_query q WHERE q.dataset_id = $1`,
    [datasetId],
  );
}
