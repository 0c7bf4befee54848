/**
 * The answer to a claim, on its hot path: the claim's slot read and locked with its query and
 * item, then (one answer needed) everything the answer writes in one statement.
 *
 * Lock order, as everywhere: the slot, its query, then the item (see `slots.sql.ts` and
 * `labels.sql.ts`).
 */
import { QUEUE_QUERY_COLUMNS } from './queries.sql';
import { sql, type SqlStatement } from './statement';

/**
 * The slot a claim token holds, with its query as the queue lists it (`slotId`, `apiKeyId`,
 * `annotatorId`, `slotAnsweredAt`, `expired`, the query's columns, its dataset's `classes`), the
 * slot and query locked FOR UPDATE and the query's item FOR NO KEY UPDATE (the item's label may
 * be written next: see `lockItemsForLabels`), all by one statement.
 */
export function slotForAnswer(token: string): SqlStatement {
  return sql(
    `SELECT s.id AS "slotId", s.api_key_id AS "apiKeyId", s.annotator_id AS "annotatorId",
            s.answered_at AS "slotAnsweredAt", s.lease_expires_at <= now() AS expired,
            ${QUEUE_QUERY_COLUMNS}, d.classes
     FROM query_slot s JOIN label_query q ON q.id = s.query_id JOIN round r ON r.id = q.round_id
       JOIN dataset d ON d.id = q.dataset_id JOIN item i ON i.id = q.item_id
     WHERE s.claim_token = $1
     FOR UPDATE OF s, q FOR NO KEY UPDATE OF i`,
    [token],
  );
}

/** What {@link answerAlone} writes. */
export interface LoneAnswer {
  slotId: string;
  queryId: string;
  datasetId: string;
  itemId: string;
  classIndex: number;
  apiKeyId: string;
  annotatorId: string;
  /** The NOTIFY of the query's ANSWERED event. */
  notify: [channel: string, payload: string];
  /** Webhook bodies of QUERY_ANSWERED and LABEL_CREATED (null: no webhooks are recorded). */
  webhookBodies: [queryAnswered: string, labelCreated: string] | null;
  /** The idempotency record to write with it (null: none). */
  idempotency: { key: string; requestHash: string; response: string } | null;
}

/**
 * The answer of a query that needs one, in one statement, under the locks of {@link
 * slotForAnswer}: the slot's answer; the item's HUMAN label (the current one superseded, kept as
 * history); the query ANSWERED, with its NOTIFY; one webhook delivery per active webhook of the
 * dataset that listens to QUERY_ANSWERED or LABEL_CREATED (returned as `deliveryIds`, QUERY_ANSWERED
 * first); and the idempotency record. Returns the query's `answeredAt`.
 */
export function answerAlone(a: LoneAnswer): SqlStatement {
  // The new label's INSERT reads the count of superseded rows, so the UPDATE has run when the
  // INSERT checks uq_label_current_per_source (the item is locked: no one else writes its label).
  return sql(
    `WITH answered AS (UPDATE query_slot SET class_index = $5::smallint, answered_at = now() WHERE id = $1::bigint RETURNING id),
     superseded AS (UPDATE label SET superseded_at = now()
                    WHERE item_id = $4::bigint AND source = 'HUMAN' AND superseded_at IS NULL RETURNING id),
     labelled AS (INSERT INTO label (dataset_id, item_id, class_index, source, api_key_id, annotator_id)
                  SELECT $3::uuid, $4::bigint, $5::smallint, 'HUMAN', $6::uuid, $7::varchar WHERE (SELECT count(*) FROM superseded) >= 0
                  RETURNING id),
     settled AS (UPDATE label_query SET status = 'ANSWERED', resolved_class = $5::smallint, answered_at = now()
                 WHERE id = $2::bigint RETURNING answered_at),
     delivered AS (INSERT INTO webhook_delivery (webhook_id, event, body)
                   SELECT w.id, e.kind, e.body
                   FROM (VALUES (1, 'QUERY_ANSWERED'::webhook_event_kind, $10::text),
                                (2, 'LABEL_CREATED'::webhook_event_kind, $11::text)) e(n, kind, body)
                   JOIN webhook w ON w.dataset_id = $3 AND w.active AND e.kind = ANY(w.events)
                   WHERE e.body IS NOT NULL
                   ORDER BY e.n, w.id
                   RETURNING id),
     recorded AS (INSERT INTO idempotency_record (key, request_hash, response)
                  SELECT $12::text, $13::text, $14::jsonb WHERE $12::text IS NOT NULL RETURNING 1)
     SELECT s.answered_at AS "answeredAt", pg_notify($8, $9) AS notified,
            (SELECT array_agg(id::text ORDER BY id) FROM delivered) AS "deliveryIds",
            (SELECT count(*) FROM answered)::int + (SELECT count(*) FROM labelled)::int
              + (SELECT count(*) FROM recorded)::int AS written
     FROM settled s`,
    [
      a.slotId,
      a.queryId,
      a.datasetId,
      a.itemId,
      a.classIndex,
      a.apiKeyId,
      a.annotatorId,
      a.notify[0],
      a.notify[1],
      a.webhookBodies?.[0] ?? null,
      a.webhookBodies?.[1] ?? null,
      a.idempotency?.key ?? null,
      a.idempotency?.requestHash ?? null,
      a.idempotency?.response ?? null,
    ],
  );
}
