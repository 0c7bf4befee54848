import crypto from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { IdempotencyRecord } from '../entities';
import { ConflictError } from '../errors';
import { requireLength } from './validate';

/** Stable JSON (object keys sorted) so equal requests hash equally. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      // GraphQL treats an omitted nullable field and an explicit null alike; so do we.
      .filter(([, v]) => v !== undefined && v !== null)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function requestHash(request: unknown): string {
  return crypto.createHash('sha256').update(canonical(request)).digest('hex');
}

/**
 * The record a call with an idempotency key writes. A `work` that writes it itself (in one of
 * its own statements, saving a round trip) sets `written`.
 */
export interface IdempotencyTarget {
  key: string;
  requestHash: string;
  written: boolean;
}

/**
 * Runs `work` once per idempotency key: a retry with the same key and the same request gets the
 * first call's stored response; the same key with a different request gets CONFLICT. The record
 * is written in the same transaction as the work, so a failed call leaves no record and may be
 * retried. Without a key, `work` simply runs in a transaction.
 */
export async function withIdempotency<R>(
  ds: DataSource,
  scope: string,
  idempotencyKey: string | null | undefined,
  request: unknown,
  work: (m: EntityManager, record: IdempotencyTarget | null) => Promise<R>,
): Promise<{ response: R; replayed: boolean }> {
  if (idempotencyKey === null || idempotencyKey === undefined) {
    return { response: await ds.transaction((m) => work(m, null)), replayed: false };
  }
  requireLength(idempotencyKey, 'idempotencyKey');
  const key = `${scope}:${idempotencyKey}`;
  const hash = requestHash(request);
  const replay = (record: IdempotencyRecord) => {
    if (record.requestHash !== hash) {
      throw new ConflictError(
        `idempotencyKey ${JSON.stringify(idempotencyKey)} was already used for a different request; use a new key for a new request.`,
      );
    }
    return { response: record.response as R, replayed: true };
  };
  // Optimistic: the work runs first and the record is written with it. A retry of a call that
  // already committed then fails (its record's key is taken, or the work itself now fails, e.g.
  // a claim already answered) and rolls back everything; the stored outcome is answered
  // instead. The first call pays no lookup.
  try {
    const response = await ds.transaction(async (m) => {
      const record: IdempotencyTarget = { key, requestHash: hash, written: false };
      const result = await work(m, record);
      if (!record.written) {
        await m.insert(IdempotencyRecord, { key, requestHash: hash, response: result as object });
      }
      return result;
    });
    return { response, replayed: false };
  } catch (e) {
    // A unique violation on the record means a call with this key committed first (PostgreSQL
    // raises it only once that call committed), so the look below finds its outcome.
    const stored = await ds.manager.findOneBy(IdempotencyRecord, { key });
    if (stored) return replay(stored);
    throw e;
  }
}
