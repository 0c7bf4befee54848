/** PostgreSQL error codes Quarry reacts to. */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_INVALID_TEXT_REPRESENTATION = '22P02';

/** The SQLSTATE of a driver error, if it is one (TypeORM wraps pg's errors). */
export function pgCode(e: unknown): string | undefined {
  const err = e as { code?: unknown; driverError?: { code?: unknown } };
  const code = err?.driverError?.code ?? err?.code;
  return typeof code === 'string' ? code : undefined;
}

export function pgConstraint(e: unknown): string | undefined {
  const err = e as { constraint?: unknown; driverError?: { constraint?: unknown } };
  const c = err?.driverError?.constraint ?? err?.constraint;
  return typeof c === 'string' ? c : undefined;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `id` can be a uuid primary key (so a malformed id reads as "not found"). */
export function isUuid(id: string): boolean {
  return UUID_RE.test(id);
}

const BIGINT_RE = /^[1-9][0-9]{0,18}$/;

/** True when `id` can be a bigint primary key. */
export function isBigintId(id: string): boolean {
  return BIGINT_RE.test(id) && BigInt(id) <= 9223372036854775807n;
}

/**
 * The rows of an UPDATE/DELETE … RETURNING run through TypeORM's `query()`, which answers those
 * with `[rows, affectedCount]` (and a SELECT with the rows alone).
 */
export function returnedRows<T>(res: unknown): T[] {
  const r = res as unknown[];
  return (Array.isArray(r[0]) ? r[0] : r) as T[];
}
