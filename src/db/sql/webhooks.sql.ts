/** Webhooks and their deliveries (the outbox that pg-boss jobs send from). */

import { sql, type SqlStatement } from './statement';
import { Conditions, type Listing } from './pages.sql';

/**
 * One delivery per active webhook of the dataset that listens to `event`, all with the same body;
 * returns their ids. Written in the caller's transaction: an event that rolls back sends nothing.
 * Cheap when the dataset has no webhook (an index probe on `ix_webhook_dataset`).
 */
export function insertDeliveries(datasetId: string, event: string, body: string): SqlStatement {
  return sql(
    `INSERT INTO webhook_delivery (webhook_id, event, body)
     SELECT id, $2::webhook_event_kind, $3 FROM webhook
      WHERE dataset_id = $1 AND active AND $2::webhook_event_kind = ANY(events)
     RETURNING id`,
    [datasetId, event, body],
  );
}

/** One delivery to one webhook (a test delivery); returns its id. */
export function insertDelivery(webhookId: string, event: string, body: string): SqlStatement {
  return sql(
    `INSERT INTO webhook_delivery (webhook_id, event, body) VALUES ($1, $2, $3) RETURNING id`,
    [webhookId, event, body],
  );
}

/**
 * Starts an attempt at a pending delivery: counts it and returns what to send (nothing when the
 * delivery is settled or its webhook is gone).
 */
export function startAttempt(deliveryId: string): SqlStatement {
  return sql(
    `UPDATE webhook_delivery d SET attempts = d.attempts + 1, last_attempt_at = now()
       FROM webhook w
      WHERE d.id = $1 AND w.id = d.webhook_id AND d.status = 'PENDING'
     RETURNING d.id, d.event, d.body, d.attempts, w.url, w.secret`,
    [deliveryId],
  );
}

/** Writes the outcome of an attempt: `status` stays PENDING when another attempt follows. */
export function finishAttempt(
  deliveryId: string,
  status: string,
  responseStatus: number | null,
  error: string | null,
): SqlStatement {
  return sql(
    `UPDATE webhook_delivery
        SET status = $2::webhook_delivery_status, response_status = $3, error = $4,
            delivered_at = CASE WHEN $2 = 'SUCCEEDED' THEN now() ELSE NULL END
      WHERE id = $1`,
    [deliveryId, status, responseStatus, error],
  );
}

const DELIVERY_COLUMNS = `id, webhook_id AS "webhookId", event, body, status, attempts,
  response_status AS "responseStatus", error, created_at AS "createdAt",
  last_attempt_at AS "lastAttemptAt", delivered_at AS "deliveredAt"`;

/** A webhook's deliveries, newest first (ix_webhook_delivery_webhook). */
export function deliveryListing(webhookId: string): Listing {
  return {
    table: 'webhook_delivery',
    columns: DELIVERY_COLUMNS,
    where: new Conditions().add((p) => `webhook_id = ${p}::uuid`, webhookId),
    descending: true,
  };
}
