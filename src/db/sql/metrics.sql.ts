/** What `/metrics` reads from the database when scraped: small aggregates over indexed columns. */

import { sql, type SqlStatement } from './statement';

/** Open and held queries per dataset that has any open query. */
export function queueDepths(): SqlStatement {
  return sql(
    `SELECT q.dataset_id AS "datasetId", count(*)::int AS open,
            count(*) FILTER (WHERE EXISTS (
              SELECT 1 FROM query_slot s WHERE s.query_id = q.id AND s.answered_at IS NULL
                AND s.claim_token IS NOT NULL AND s.lease_expires_at > now()))::int AS held
       FROM label_query q WHERE q.status = 'OPEN' GROUP BY q.dataset_id`,
  );
}

/** Rounds by status. */
export function roundsByStatus(): SqlStatement {
  return sql(`SELECT status, count(*)::int AS n FROM round GROUP BY status`);
}

/** Tasks by kind and status. */
export function tasksByStatus(): SqlStatement {
  return sql(`SELECT kind, status, count(*)::int AS n FROM task GROUP BY kind, status`);
}

/** pg-boss jobs of Quarry's queues by state (pg-boss keeps them in its own schema). */
export function jobsByState(): SqlStatement {
  return sql(
    `SELECT name, state::text AS state, count(*)::int AS n FROM pgboss.job
      WHERE name LIKE 'quarry-%' GROUP BY name, state`,
  );
}
