/** API keys. */

import { sql, type SqlStatement } from './statement';
import { Conditions, type Listing } from './pages.sql';

/**
 * Locks the api_key table against inserts (SHARE ROW EXCLUSIVE conflicts with itself and with
 * the ROW EXCLUSIVE lock of an INSERT), so that two processes starting on an empty database
 * cannot both create the initial admin key. Reads go on.
 */
export function lockApiKeysAgainstInserts(): SqlStatement {
  return sql('LOCK TABLE api_key IN SHARE ROW EXCLUSIVE MODE');
}

/** How many API keys exist, revoked ones included (`n`). */
export function countApiKeys(): SqlStatement {
  return sql('SELECT count(*)::int AS n FROM api_key');
}

/** Of these key ids, those revoked (or deleted). */
export function revokedAmong(ids: readonly string[]): SqlStatement {
  return sql(
    `SELECT x.id FROM unnest($1::uuid[]) AS x(id)
      WHERE NOT EXISTS (SELECT 1 FROM api_key k WHERE k.id = x.id AND k.revoked_at IS NULL)`,
    [ids],
  );
}

/** Every API key, oldest first (ix_api_key_created). */
export function apiKeyListing(): Listing {
  return {
    table: 'api_key',
    columns: 'id',
    where: new Conditions(),
    sortBy: { column: 'created_at', type: 'timestamptz' },
    idType: 'uuid',
  };
}
