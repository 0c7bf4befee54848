/**
 * Events, sent with NOTIFY: a notification sent inside a transaction is delivered only if, and
 * when, it commits.
 */

import { sql, type SqlStatement } from './statement';

/** Sends `payload` on `channel`. */
export function notify(channel: string, payload: string): SqlStatement {
  return sql('SELECT pg_notify($1, $2)', [channel, payload]);
}

/**
 * Sends a round's current state as a `round` event, read in the same statement: two updates
 * committed in turn are reported in turn.
 */
export function notifyRoundState(channel: string, roundId: string): SqlStatement {
  return sql(
    `SELECT pg_notify($1, json_build_object('type', 'round', 'roundId', id, 'datasetId', dataset_id,
         'status', status, 'scored', items_scored, 'total', items_total, 'error', error,
         'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text)
       FROM round WHERE id = $2`,
    [channel, roundId],
  );
}
