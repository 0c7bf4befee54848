/**
 * Per-key rate limits (requests and query cost per second, by role) and a per-address limit on
 * failed authentication, shared between server processes on PostgreSQL through the table
 * `quarry_rate_limit` (made by a migration). By default each process reserves points of a key's
 * window from the table in chunks and charges requests against them in memory (`rate-grants.ts`:
 * exact across processes, a statement only when a reservation runs out); with `rateLimitSyncMs`
 * above 0 the per-key limits are charged in memory and shared in one statement per process every
 * that many ms (see `rate-counters.ts` for what that means for precision). Failed
 * authentications go through rate-limiter-flexible's PostgreSQL store. On the embedded database
 * (one process) every limit lives in memory.
 */
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { EdgeLimits, PerRole } from '../config';
import type { Database } from '../db/database';
import {
  addToCounters,
  deleteExpiredCounters,
  reserveFromCounter,
  startCounter,
} from '../db/sql/rate-limits.sql';
import type { Queryable } from '../db/sql/statement';
import { ApiKeyRole } from '../entities/enums';
import { RateLimitedError } from '../errors';
import { logger } from '../logger';
import { RateCounters, type CounterStore } from './rate-counters';
import { RateGrants, type GrantStore } from './rate-grants';

/** The table the PostgreSQL store keeps its counters in (one row per key and window). */
export const RATE_LIMIT_TABLE = 'quarry_rate_limit';

/** A refusal: how long to wait, for `Retry-After`. */
export interface Refusal {
  retryAfterSeconds: number;
}

type Limiter = RateLimiterAbstract;

/** Builds one limiter of `points` per `durationSeconds` under `keyPrefix` in the right store. */
function limiter(
  db: Database,
  keyPrefix: string,
  points: number,
  durationSeconds: number,
): Limiter {
  const memory = new RateLimiterMemory({ keyPrefix, points, duration: durationSeconds });
  if (db.kind !== 'postgres') return memory;
  const pool = (db.ds.driver as unknown as { master: unknown }).master;
  // The table is made by a migration (tableCreated): nothing to wait for.
  return new RateLimiterPostgres({
    storeClient: pool,
    storeType: 'pool',
    tableName: RATE_LIMIT_TABLE,
    tableCreated: true,
    keyPrefix,
    points,
    duration: durationSeconds,
    // While the database cannot be reached, each process limits on its own.
    insuranceLimiter: memory,
  });
}

/** The refusal of a charge that must wait `waitMs`; none when it was charged. */
function refusal(waitMs: number | undefined): Refusal | undefined {
  return waitMs === undefined
    ? undefined
    : { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}

function retryAfter(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}

/**
 * Consumes `points` of `key`; a refusal when the window has none left. A store failure (the
 * insurance limiter failing too) lets the request through: it is logged, never a 500.
 */
async function take(l: Limiter, key: string, points: number): Promise<Refusal | undefined> {
  try {
    await l.consume(key, Math.min(points, l.points));
    return undefined;
  } catch (e) {
    if (e instanceof RateLimiterRes) return { retryAfterSeconds: retryAfter(e) };
    logger.warn({ err: e }, 'rate limiter unavailable; request let through');
    return undefined;
  }
}

/** The shared counters in PostgreSQL, through `db`'s pool (pg's own `query`: it answers `{ rows }`). */
function postgresCounters(db: Database): CounterStore {
  const pool = (db.ds.driver as unknown as { master: Queryable }).master;
  return {
    async add(keys, points, expire, nowMs) {
      const { text, values } = addToCounters(keys, points, expire, nowMs);
      const { rows } = (await pool.query(text, values)) as {
        rows: { key: string; points: number; expire: number }[];
      };
      return new Map(rows.map((r) => [r.key, { points: r.points, expire: r.expire }]));
    },
    async deleteExpired(beforeMs) {
      const { text, values } = deleteExpiredCounters(beforeMs);
      await pool.query(text, values);
    },
  };
}

/** Reservations from the shared counters in PostgreSQL (see `rate-grants.ts`). */
function postgresGrants(db: Database): GrantStore {
  const pool = (db.ds.driver as unknown as { master: Queryable }).master;
  type Row = { granted: number; points: number; expire: number };
  const one = async (s: { text: string; values: unknown[] }) =>
    ((await pool.query(s.text, s.values)) as { rows: Row[] }).rows[0];
  return {
    async reserve(key, want, limit, expire, nowMs) {
      // The row stays after its window ends (until swept): the update is the usual case.
      for (let attempt = 0; attempt < 2; attempt++) {
        const updated = await one(reserveFromCounter(key, want, limit, expire, nowMs));
        if (updated) return updated;
        const started = await one(startCounter(key, Math.min(want, limit), expire));
        if (started) return started;
      }
      throw new Error(`rate limit counter ${key} could be neither updated nor started`);
    },
    async deleteExpired(beforeMs) {
      const { text, values } = deleteExpiredCounters(beforeMs);
      await pool.query(text, values);
    },
  };
}

const SECOND_MS = 1000;

/** The rate limits of one server process, shared with the others through the database. */
export class RateLimits {
  private constructor(
    private readonly counters: RateCounters,
    private readonly requests: PerRole,
    private readonly cost: PerRole,
    private readonly authFailures: Limiter | undefined,
    /** Reservations from the shared counters (PostgreSQL with rateLimitSyncMs 0). */
    private readonly grants?: RateGrants,
  ) {}

  /** Builds the limiters of `edge` (a limit of 0 is off) in `db`'s store. */
  static async create(db: Database, edge: EdgeLimits): Promise<RateLimits> {
    const shared = db.kind === 'postgres';
    return new RateLimits(
      new RateCounters(shared ? postgresCounters(db) : undefined, {
        syncMs: Math.max(1, edge.rateLimitSyncMs),
      }),
      edge.requestsPerSecond,
      edge.costPerSecond,
      edge.authFailuresPerMinute > 0
        ? limiter(db, 'auth-failures', edge.authFailuresPerMinute, 60)
        : undefined,
      shared && edge.rateLimitSyncMs === 0 ? new RateGrants(postgresGrants(db)) : undefined,
    );
  }

  private charge(
    what: 'requests' | 'cost',
    limits: PerRole,
    role: ApiKeyRole,
    keyId: string,
    points: number,
  ): Promise<Refusal | undefined> {
    const limit = limits[role];
    if (!(limit > 0) || points <= 0) return Promise.resolve(undefined);
    const name = `${what}:${role}`;
    return this.grants
      ? this.grants.take(name, keyId, limit, SECOND_MS, points).then(refusal)
      : Promise.resolve(refusal(this.counters.take(name, keyId, limit, SECOND_MS, points)));
  }

  /** One request of the key `keyId`; a refusal over its role's requests per second. */
  request(role: ApiKeyRole, keyId: string): Promise<Refusal | undefined> {
    return this.charge('requests', this.requests, role, keyId, 1);
  }

  /** An operation's cost for the key; a refusal over its role's cost per second. */
  spend(role: ApiKeyRole, keyId: string, cost: number): Promise<Refusal | undefined> {
    return this.charge('cost', this.cost, role, keyId, cost);
  }

  /** Shares what was charged last and stops (server shutdown). */
  stop(): Promise<void> {
    return this.counters.stop();
  }

  /** A refusal when `address` has used up its failed authentications for now. */
  async addressBlocked(address: string): Promise<Refusal | undefined> {
    const l = this.authFailures;
    if (!l) return undefined;
    try {
      const res = await l.get(address);
      return res && res.consumedPoints >= l.points
        ? { retryAfterSeconds: retryAfter(res) }
        : undefined;
    } catch (e) {
      logger.warn({ err: e }, 'rate limiter unavailable; request let through');
      return undefined;
    }
  }

  /** Counts a failed authentication from `address`. */
  async authFailed(address: string): Promise<void> {
    if (this.authFailures) await take(this.authFailures, address, 1);
  }
}

/** The error a refused request answers with (HTTP 429 with Retry-After). */
export function rateLimitedError(
  what: 'requests' | 'cost' | 'authentication',
  refusal: Refusal,
): RateLimitedError {
  const why = {
    requests: 'This API key sent more requests per second than its role allows',
    cost: 'This API key asked for more query cost per second than its role allows',
    authentication: 'Too many failed authentications from this address',
  }[what];
  return new RateLimitedError(
    `${why} (see QUARRY_RATE_LIMIT_* and QUARRY_AUTH_FAILURES_PER_MINUTE). Retry after ${refusal.retryAfterSeconds} s.`,
    refusal.retryAfterSeconds,
  );
}
