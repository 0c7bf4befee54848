/**
 * Statements over query slots (`query_slot`: one row per answer a query needs, holding its claim
 * and then its answer) and skips (`query_skip`). A slot is free when it has no answer and no live
 * lease: expired leases count as free, so no sweeper is needed.
 *
 * Lock order, everywhere: a slot before its query.
 */
import { QUEUE_QUERY_COLUMNS } from './queries.sql';
import { sql, type SqlStatement } from './statement';

/**
 * Lock class of `pg_advisory_xact_lock(class, key)` for one annotator's claims on a dataset (the
 * label budget's lock is class 7302).
 */
const ANNOTATOR_LOCK = 7301;

/**
 * Takes the lock of `annotatorId`'s claims on a dataset until the transaction ends: one claim at a
 * time per annotator, so two claims of one person never take two slots of one query (whatever
 * annotationsPerItem is now: queries keep the k they opened with); claims of different annotators
 * still run side by side.
 */
export function lockAnnotatorClaims(datasetId: string, annotatorId: string): SqlStatement {
  return sql('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
    ANNOTATOR_LOCK,
    `${datasetId}:${annotatorId}`,
  ]);
}

/**
 * {@link lockAnnotatorClaims} and the dataset's `id`, `annotationsPerItem` and `labelBudget`, in
 * one statement (no row when there is no such dataset, and then no lock either).
 */
export function lockClaimsOfDataset(datasetId: string, annotatorId: string): SqlStatement {
  return sql(
    `SELECT d.id, d.annotations_per_item AS "annotationsPerItem", d.label_budget AS "labelBudget",
            pg_advisory_xact_lock($2, hashtext($3)) AS locked
     FROM dataset d WHERE d.id = $1`,
    [datasetId, ANNOTATOR_LOCK, `${datasetId}:${annotatorId}`],
  );
}

/**
 * Up to `limit` free slots `annotatorId` may claim, in queue order (newest open round first, then
 * rank, then slot), locked: slots of queries the annotator holds, answered or skipped are passed
 * over. Up to k slots of one query may come back; the caller keeps one per query.
 */
export function freeSlots(datasetId: string, annotatorId: string, limit: number): SqlStatement {
  return sql(`${FREE_SLOTS} ORDER BY r.created_at DESC, r.id DESC, x.rank, x.slot LIMIT $3`, [
    datasetId,
    annotatorId,
    limit,
  ]);
}

/**
 * Free slots ($1 dataset, $2 annotator, $3 how many), locked, with their queue order's keys
 * (`created_at`, `rid`, `rank`, `slot`); order and limit are the caller's.
 */
// Slots are locked, not queries: whether a slot is free is in its own row, so a claimer that
// meets a slot another just took re-reads it (PostgreSQL's recheck of locked rows) and passes
// over it (SKIP LOCKED). Each open round's queue is walked in rank order through the partial
// index ix_label_query_queue (dataset_id, round_id, rank) WHERE status = 'OPEN' (LATERAL per
// round, never a sort of the whole queue), newest round first; the NOT EXISTS probes use
// ix_query_slot_annotator and ix_query_skip_query. The inner ORDER BY is the index's own order
// (rank alone, not rank and slot): the scan then needs no sort whatever the planner believes of
// the table's size. Ordered by (rank, slot), stale statistics (a round's thousands of queries
// not yet analyzed) made PostgreSQL read and sort the round's whole queue. Which of a query's
// free slots comes first does not matter; the outer sort orders what was read (a few rows per
// open round). Tuned with bench/queues.ts, which runs freeSlots as its raw-SQL baseline.
const FREE_SLOTS = `SELECT x.id, x."queryId", r.created_at, r.id AS rid, x.rank, x.slot
     FROM (SELECT id, created_at FROM round WHERE dataset_id = $1 AND status = 'OPEN') r
     CROSS JOIN LATERAL (
       SELECT s.id, s.query_id AS "queryId", q.rank, s.slot
       FROM label_query q JOIN query_slot s ON s.query_id = q.id
       WHERE q.dataset_id = $1 AND q.round_id = r.id AND q.status = 'OPEN'
         AND s.answered_at IS NULL
         AND (s.lease_expires_at IS NULL OR s.lease_expires_at <= now())
         AND NOT EXISTS (SELECT 1 FROM query_slot o WHERE o.query_id = s.query_id AND o.annotator_id = $2
                           AND o.id <> s.id AND (o.answered_at IS NOT NULL OR o.lease_expires_at > now()))
         AND NOT EXISTS (SELECT 1 FROM query_skip x WHERE x.query_id = s.query_id AND x.annotator_id = $2)
       ORDER BY q.rank
       LIMIT $3
       FOR UPDATE OF s SKIP LOCKED
     ) x`;

/** What {@link claimFreeSlots} takes. */
export interface SlotClaim {
  datasetId: string;
  annotatorId: string;
  /** Free slots to read (up to k per query). */
  read: number;
  /** Queries to take (one slot each). */
  take: number;
  apiKeyId: string;
  leaseSeconds: number;
  /** The NOTIFY channel and the CLAIMED event's JSON, without its `queryIds`. */
  channel: string;
  event: string;
}

/**
 * A claim in one statement: reads up to `read` free slots in queue order (locked, as
 * {@link freeSlots}), takes the first slot of each of the first `take` queries among them for
 * the key and annotator with a lease of `leaseSeconds`, and NOTIFYs `channel` with `event` and
 * the queries taken (when any). Returns each slot taken (`slotId`, `token`, `expiresAt`, its
 * query's columns) in queue order, with `freeRead`, the number of free slots read.
 */
export function claimFreeSlots(c: SlotClaim): SqlStatement {
  return sql(
    `WITH free AS (${FREE_SLOTS}),
     ordered AS (SELECT f.id, f."queryId", row_number() OVER (ORDER BY f.created_at DESC, f.rid DESC, f.rank, f.slot) AS n
                 FROM free f),
     pick AS (SELECT id, n FROM (SELECT DISTINCT ON ("queryId") id, n FROM ordered ORDER BY "queryId", n) p
              ORDER BY n LIMIT $4),
     u AS (UPDATE query_slot SET claim_token = gen_random_uuid(), api_key_id = $5, annotator_id = $2,
             claimed_at = now(), lease_expires_at = now() + make_interval(secs => $6)
           FROM pick WHERE query_slot.id = pick.id
           RETURNING query_slot.id, query_slot.query_id, query_slot.claim_token, query_slot.lease_expires_at, pick.n),
     note AS (SELECT pg_notify($7, ($8::jsonb || jsonb_build_object('queryIds',
                (SELECT jsonb_agg(u.query_id::text ORDER BY u.n) FROM u)))::text)
              WHERE EXISTS (SELECT 1 FROM u))
     SELECT u.id AS "slotId", u.claim_token AS token, u.lease_expires_at AS "expiresAt", ${QUEUE_QUERY_COLUMNS},
            (SELECT count(*) FROM free)::int AS "freeRead", (SELECT count(*) FROM note)::int AS notified
     FROM u JOIN label_query q ON q.id = u.query_id JOIN round r ON r.id = q.round_id
     ORDER BY u.n`,
    [c.datasetId, c.annotatorId, c.read, c.take, c.apiKeyId, c.leaseSeconds, c.channel, c.event],
  );
}

/**
 * Claims slots (locked by {@link freeSlots}) for a key and annotator with a lease of
 * `leaseSeconds`, returning each slot's `slotId`, `token`, `expiresAt` and its query's columns.
 */
export function takeSlots(
  slotIds: readonly string[],
  apiKeyId: string,
  annotatorId: string,
  leaseSeconds: number,
): SqlStatement {
  // The claim and the queries it hands out, in one statement.
  return sql(
    `WITH u AS (
       UPDATE query_slot SET claim_token = gen_random_uuid(), api_key_id = $2, annotator_id = $3,
         claimed_at = now(), lease_expires_at = now() + make_interval(secs => $4)
       WHERE id = ANY($1::bigint[])
       RETURNING id, query_id, claim_token, lease_expires_at)
     SELECT u.id AS "slotId", u.claim_token AS token, u.lease_expires_at AS "expiresAt", ${QUEUE_QUERY_COLUMNS}
     FROM u JOIN label_query q ON q.id = u.query_id JOIN round r ON r.id = q.round_id`,
    [slotIds, apiKeyId, annotatorId, leaseSeconds],
  );
}

/** Sets a slot's lease to end `leaseSeconds` from now, returning `expiresAt`. */
export function renewLease(slotId: string, leaseSeconds: number): SqlStatement {
  return sql(
    `UPDATE query_slot SET lease_expires_at = now() + make_interval(secs => $2)
     WHERE id = $1 RETURNING lease_expires_at AS "expiresAt"`,
    [slotId, leaseSeconds],
  );
}

/** The slot a claim token holds (with `expired` for a lapsed lease), locked; by uq_query_slot_token. */
export function heldSlot(token: string): SqlStatement {
  return sql(
    `SELECT id, query_id AS "queryId", dataset_id AS "datasetId", api_key_id AS "apiKeyId",
            annotator_id AS "annotatorId", answered_at AS "answeredAt",
            lease_expires_at <= now() AS expired
     FROM query_slot WHERE claim_token = $1 FOR UPDATE`,
    [token],
  );
}

/**
 * {@link heldSlot} with its query's `status`, `answersNeeded` and `itemId` (as `query`): both
 * rows are locked by the one statement, the slot first.
 */
export function heldSlotWithQuery(token: string): SqlStatement {
  return sql(
    `SELECT s.id, s.query_id AS "queryId", s.dataset_id AS "datasetId", s.api_key_id AS "apiKeyId",
            s.annotator_id AS "annotatorId", s.answered_at AS "answeredAt",
            s.lease_expires_at <= now() AS expired,
            json_build_object('status', q.status, 'answersNeeded', q.answers_needed,
                              'itemId', q.item_id::text) AS query
     FROM query_slot s JOIN label_query q ON q.id = s.query_id
     WHERE s.claim_token = $1 FOR UPDATE`,
    [token],
  );
}

/** Gives a slot back to the queue: no claim, no lease. */
export function freeSlot(slotId: string): SqlStatement {
  return sql(
    `UPDATE query_slot SET claim_token = NULL, api_key_id = NULL, annotator_id = NULL,
       claimed_at = NULL, lease_expires_at = NULL WHERE id = $1`,
    [slotId],
  );
}

/** Records that an annotator passed on a query, so it is not offered to them again. */
export function insertSkip(
  queryId: string,
  datasetId: string,
  apiKeyId: string,
  annotatorId: string,
  reason: string | null,
): SqlStatement {
  return sql(
    `INSERT INTO query_skip (query_id, dataset_id, api_key_id, annotator_id, reason) VALUES ($1, $2, $3, $4, $5)`,
    [queryId, datasetId, apiKeyId, annotatorId, reason],
  );
}

/**
 * Stores a slot's answer. The lease is kept: until it ends the annotator may change the answer
 * ({@link changeAnswer}); every count of held units looks only at unanswered slots.
 */
export function recordAnswer(slotId: string, classIndex: number): SqlStatement {
  return sql('UPDATE query_slot SET class_index = $2, answered_at = now() WHERE id = $1', [
    slotId,
    classIndex,
  ]);
}

/**
 * The answered slot a claim token holds, locked with its query (slot first), with `live` while
 * the claim's lease has not ended and the query's `status`, `answersNeeded`, `itemId`,
 * `roundId` and its dataset's `classes`.
 */
export function answeredSlot(token: string): SqlStatement {
  return sql(
    `SELECT s.id, s.query_id AS "queryId", s.dataset_id AS "datasetId", s.api_key_id AS "apiKeyId",
            s.annotator_id AS "annotatorId", s.answered_at AS "answeredAt",
            s.class_index AS "classIndex", coalesce(s.lease_expires_at > now(), false) AS live,
            q.status, q.answers_needed AS "answersNeeded", q.item_id::text AS "itemId",
            q.round_id::text AS "roundId", d.classes
     FROM query_slot s JOIN label_query q ON q.id = s.query_id JOIN dataset d ON d.id = s.dataset_id
     WHERE s.claim_token = $1 FOR UPDATE OF s, q`,
    [token],
  );
}

/** Replaces an answered slot's answer (and the query's resolved class when it was settled by it). */
export function changeAnswer(slotId: string, classIndex: number): SqlStatement {
  return sql(
    `WITH s AS (UPDATE query_slot SET class_index = $2 WHERE id = $1 RETURNING query_id)
     UPDATE label_query q SET resolved_class = $2 FROM s
     WHERE q.id = s.query_id AND q.status = 'ANSWERED' AND q.answers_needed = 1`,
    [slotId, classIndex],
  );
}

/** The answers a query has so far: class `c` and annotator `a` of each. */
export function answersOfQuery(queryId: string): SqlStatement {
  return sql(
    'SELECT class_index AS c, annotator_id AS a FROM query_slot WHERE query_id = $1 AND answered_at IS NOT NULL',
    [queryId],
  );
}

/** The answers of several queries, oldest first. */
export function answersByQueryIds(queryIds: readonly string[]): SqlStatement {
  return sql(
    `SELECT query_id AS "queryId", annotator_id AS "annotatorId", class_index AS "classIndex",
            answered_at AS "answeredAt"
     FROM query_slot WHERE query_id = ANY($1::bigint[]) AND answered_at IS NOT NULL
     ORDER BY answered_at, id`,
    [queryIds],
  );
}

/** Answers given and live claims of each of several queries (absent: neither). */
export function progressByQueryIds(queryIds: readonly string[]): SqlStatement {
  return sql(
    `SELECT query_id AS "queryId",
            count(*) FILTER (WHERE answered_at IS NOT NULL)::int AS answered,
            count(*) FILTER (WHERE answered_at IS NULL AND lease_expires_at > now())::int AS held
     FROM query_slot WHERE query_id = ANY($1::bigint[]) GROUP BY query_id`,
    [queryIds],
  );
}

/**
 * Per annotator of a dataset: answers to settled multi-annotator queries, how many equal the
 * resolved class (`agreed`), and how many were to queries that ended tied (`tied`).
 */
export function agreementByAnnotator(datasetId: string): SqlStatement {
  return sql(
    `SELECT s.annotator_id AS "annotatorId", count(*)::int AS answers,
            count(*) FILTER (WHERE s.class_index = q.resolved_class)::int AS agreed,
            count(*) FILTER (WHERE q.resolved_class IS NULL)::int AS tied
     FROM query_slot s JOIN label_query q ON q.id = s.query_id
     WHERE s.dataset_id = $1 AND s.answered_at IS NOT NULL AND q.answers_needed > 1
       AND q.status IN ('ANSWERED', 'NEEDS_REVIEW')
     GROUP BY s.annotator_id ORDER BY s.annotator_id`,
    [datasetId],
  );
}

/**
 * The unanswered slots still held by these claim tokens, with whether their lease ran out and the
 * query is still open (released, answered, skipped and re-claimed slots no longer carry the
 * token).
 */
export function leasesOfTokens(tokens: readonly string[]): SqlStatement {
  // The comment names the statement as background work (a job, not a request) in statement logs.
  return sql(
    `/* lease check */ SELECT s.query_id AS "queryId", s.claim_token AS token, s.lease_expires_at AS "expiresAt",
            s.lease_expires_at <= now() AS expired
       FROM query_slot s JOIN label_query q ON q.id = s.query_id AND q.status = 'OPEN'
      WHERE s.claim_token = ANY($1::uuid[]) AND s.answered_at IS NULL`,
    [tokens],
  );
}

/**
 * Per annotator of a dataset: answers given, skips, the mean seconds from claim to answer and
 * the last answer's time, busiest first.
 */
export function activityByAnnotator(datasetId: string): SqlStatement {
  return sql(
    `SELECT coalesce(a.annotator_id, k.annotator_id) AS "annotatorId", coalesce(a.answers, 0)::int AS answers,
            coalesce(k.skips, 0)::int AS skips, a."secondsPerAnswer", a."lastAnswerAt"
     FROM (SELECT annotator_id, count(*) AS answers,
                  avg(extract(epoch FROM answered_at - claimed_at))::float8 AS "secondsPerAnswer",
                  max(answered_at) AS "lastAnswerAt"
           FROM query_slot WHERE dataset_id = $1 AND answered_at IS NOT NULL GROUP BY annotator_id) a
     FULL JOIN (SELECT annotator_id, count(*) AS skips FROM query_skip WHERE dataset_id = $1
                GROUP BY annotator_id) k ON k.annotator_id = a.annotator_id
     ORDER BY 2 DESC, 1
     LIMIT 200`,
    [datasetId],
  );
}

/** Answers given to a dataset's queries per minute over the last `minutes` minutes, oldest first. */
export function answersPerMinute(datasetId: string, minutes: number): SqlStatement {
  return sql(
    `SELECT date_trunc('minute', answered_at) AS minute, count(*)::int AS answers
     FROM query_slot
     WHERE dataset_id = $1 AND answered_at > now() - make_interval(mins => $2)
     GROUP BY 1 ORDER BY 1`,
    [datasetId, minutes],
  );
}
