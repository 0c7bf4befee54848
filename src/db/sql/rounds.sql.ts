/**
 * Statements of rounds and their queries: what opening and closing a batch of queries writes.
 * Called by `src/services/round-lifecycle.ts` and the round runner.
 */
import { sql, type SqlStatement } from './statement';
import { Conditions, type Listing } from './pages.sql';

/** The round's status, its row locked: only one of a cancel, a revoke and an open goes on. */
export function lockRoundStatus(roundId: string): SqlStatement {
  return sql('SELECT status FROM round WHERE id = $1 FOR UPDATE', [roundId]);
}

/**
 * A round's queries, ranked as given (1 = first), each needing `answersNeeded` answers; an item
 * already queried by this round (a retried open) is passed over. Scores may be ±Infinity.
 */
export function insertQueries(
  datasetId: string,
  roundId: string,
  queries: { itemIds: string[]; scores: (number | string)[]; reasons: string[] },
  answersNeeded: number,
): SqlStatement {
  return sql(
    `INSERT INTO label_query (dataset_id, round_id, item_id, rank, score, reason, answers_needed)
     SELECT $1, $2, t.i, t.n, t.s, t.j, $6
     FROM unnest($3::bigint[], $4::float8[], $5::jsonb[]) WITH ORDINALITY AS t(i, s, j, n)
     ORDER BY t.n
     ON CONFLICT (round_id, item_id) DO NOTHING
     RETURNING id, item_id::text AS "itemId"`,
    [datasetId, roundId, queries.itemIds, queries.scores, queries.reasons, answersNeeded],
  );
}

/** One slot per answer each of the round's queries needs: claims take slots. */
export function insertSlots(roundId: string): SqlStatement {
  return sql(
    `INSERT INTO query_slot (query_id, dataset_id, slot)
     SELECT q.id, q.dataset_id, g FROM label_query q, generate_series(1, q.answers_needed) AS g
     WHERE q.round_id = $1`,
    [roundId],
  );
}

/** Cancels the round's open queries; their unanswered slots stop counting as owed. */
export function cancelOpenQueries(roundId: string): SqlStatement {
  return sql(
    `UPDATE label_query SET status = 'CANCELLED' WHERE round_id = $1 AND status = 'OPEN' RETURNING id`,
    [roundId],
  );
}

/** Ends the round CANCELLED when it is in one of `statuses`. */
export function cancelRound(roundId: string, statuses: readonly string[]): SqlStatement {
  return sql(
    `UPDATE round SET status = 'CANCELLED', finished_at = now()
     WHERE id = $1 AND status = ANY($2::round_status[])`,
    [roundId, statuses],
  );
}

/** A selected round becomes OPEN, every item counted as scored. */
export function markRoundOpen(roundId: string): SqlStatement {
  return sql(
    `UPDATE round SET status = 'OPEN', finished_at = now(), items_scored = items_total WHERE id = $1`,
    [roundId],
  );
}

/** Round states in which the round's job still has work to do, as a SQL list. */
export const RUNNING_ROUND = `('QUEUED', 'SCORING', 'SELECTING')`;

/** A round's status, unlocked (the runner's checks between chunks). */
export function roundStatus(roundId: string): SqlStatement {
  return sql('SELECT status FROM round WHERE id = $1', [roundId]);
}

/**
 * Takes a round for this process: one that waits, or one whose runner stopped beating for
 * `staleSeconds` (its process died). Only one runner gets the row back.
 */
export function takeRound(roundId: string, staleSeconds: number): SqlStatement {
  return sql(
    `UPDATE round SET status = 'SCORING', attempts = attempts + 1, items_scored = 0, items_skipped = 0,
            started_at = coalesce(started_at, now()), heartbeat_at = now()
     WHERE id = $1 AND (status = 'QUEUED' OR (status IN ('SCORING', 'SELECTING')
       AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $2))))
     RETURNING id`,
    [roundId, staleSeconds],
  );
}

/**
 * A stopping process hands its running round back: QUEUED again (without a heartbeat), so the
 * retried job, in any process, takes it at once.
 */
export function handBackRound(roundId: string): SqlStatement {
  return sql(
    `UPDATE round SET status = 'QUEUED', heartbeat_at = NULL, items_scored = 0
     WHERE id = $1 AND status IN ('SCORING', 'SELECTING')`,
    [roundId],
  );
}

/** The runner is alive. */
export function beatRound(roundId: string): SqlStatement {
  return sql('UPDATE round SET heartbeat_at = now() WHERE id = $1', [roundId]);
}

/** Ends a running round FAILED with a message for people (a cancelled one stays cancelled). */
export function failRound(roundId: string, message: string): SqlStatement {
  return sql(
    `UPDATE round SET status = 'FAILED', error = $2, finished_at = now()
     WHERE id = $1 AND status IN ('SCORING', 'SELECTING')`,
    [roundId, message],
  );
}

/** Ends a round whose job was retried too often; the message counts its attempts. */
export function giveUpRound(roundId: string): SqlStatement {
  return sql(
    `UPDATE round SET status = 'FAILED', finished_at = now(),
       error = 'The round was started ' || attempts || ' times and never finished (its process stopped or died each time); start it again.'
     WHERE id = $1 AND status IN ${RUNNING_ROUND}`,
    [roundId],
  );
}

/** How many items the round's pool holds (progress shows it). */
export function setItemsTotal(roundId: string, total: number): SqlStatement {
  return sql('UPDATE round SET items_total = $2 WHERE id = $1', [roundId, total]);
}

/** Progress: `rows` more items scored, of which `skipped` were left out (non-finite outputs). */
export function addItemsScored(roundId: string, rows: number, skipped = 0): SqlStatement {
  return sql(
    'UPDATE round SET items_scored = items_scored + $2, items_skipped = items_skipped + $3 WHERE id = $1',
    [roundId, rows, skipped],
  );
}

/** A scored round starts selecting; no row back when it was cancelled meanwhile. */
export function markSelecting(roundId: string): SqlStatement {
  return sql(
    `UPDATE round SET status = 'SELECTING' WHERE id = $1 AND status = 'SCORING' RETURNING id`,
    [roundId],
  );
}

/** Per round: its queries settled by their answers (ANSWERED or NEEDS_REVIEW). */
export function settledQueryCounts(roundIds: readonly string[]): SqlStatement {
  return sql(
    `SELECT round_id AS "roundId", count(*)::int AS settled FROM label_query
     WHERE round_id = ANY($1::uuid[]) AND status IN ('ANSWERED', 'NEEDS_REVIEW')
     GROUP BY round_id`,
    [roundIds],
  );
}

/** A dataset's rounds, newest first (ix_round_dataset_created). */
export function roundListing(datasetId: string): Listing {
  return {
    table: 'round',
    columns: 'id',
    where: new Conditions().add((p) => `dataset_id = ${p}::uuid`, datasetId),
    sortBy: { column: 'created_at', type: 'timestamptz' },
    descending: true,
    idType: 'uuid',
  };
}

/**
 * OPEN rounds whose every query is settled (none OPEN or NEEDS_REVIEW) become CLOSED: those of
 * `roundIds`, or every such round when null. Returns the closed rounds. Each check is a probe of
 * the queue's partial index (open queries) and of the dataset's NEEDS_REVIEW queries, whatever
 * the round's size.
 */
export function closeSettledRounds(roundIds: readonly string[] | null): SqlStatement {
  return sql(
    `UPDATE round r SET status = 'CLOSED'
     WHERE r.status = 'OPEN' AND ($1::uuid[] IS NULL OR r.id = ANY($1::uuid[]))
       AND NOT EXISTS (SELECT 1 FROM label_query q
                       WHERE q.dataset_id = r.dataset_id AND q.round_id = r.id AND q.status = 'OPEN')
       AND NOT EXISTS (SELECT 1 FROM label_query q
                       WHERE q.dataset_id = r.dataset_id AND q.round_id = r.id
                         AND q.status = 'NEEDS_REVIEW')
     RETURNING r.id, r.dataset_id AS "datasetId"`,
    [roundIds],
  );
}
