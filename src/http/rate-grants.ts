/**
 * The default counters of the per-key rate limits on PostgreSQL: exact across processes, and
 * cheap. Each process reserves points of a key's window from the shared counter
 * (`quarry_rate_limit`) in chunks and charges requests against its reservation in memory; a
 * statement runs only when the reservation runs out. No process charges points it has not
 * reserved, so the processes together never let more than the limit through in a window.
 *
 * Chunks are a quarter of what the window has left (at least what the request needs): a key far
 * from its limit costs a statement now and then, and near the limit the chunks shrink to what
 * each request needs, so points another process holds unused are few. What is reserved and not
 * used lapses with the window (a process refuses when the shared counter is spent, although
 * another may still hold a few points of it: the limit is never exceeded, and is reached within
 * those). Windows are fixed, start with a key's first request and last `windowMs`, as
 * rate-limiter-flexible's do.
 */
import { logger } from '../logger';
import { RateCounters } from './rate-counters';

/** The shared counters. */
export interface GrantStore {
  /**
   * Reserves up to `want` points of counter `key`, whose window (when none is under way) ends at
   * `expire`; never more than `limit` in a window. Answers the points granted (possibly 0), the
   * counter's total after, and its window end.
   */
  reserve(
    key: string,
    want: number,
    limit: number,
    expire: number,
    nowMs: number,
  ): Promise<{ granted: number; points: number; expire: number }>;
  /** Drops counters whose window ended before `beforeMs`. */
  deleteExpired(beforeMs: number): Promise<void>;
}

interface Grant {
  /** End of the window the reservation belongs to, ms since the epoch (0: none yet). */
  expire: number;
  /** Points reserved by this process and not charged yet. */
  left: number;
  /** The shared total when this process last reserved. */
  total: number;
  /** A reservation under way (concurrent requests of the key wait for it). */
  reserving?: Promise<boolean>;
}

const SWEEP_MS = 30_000;

/** The reservations of one process. */
export class RateGrants {
  private readonly grants = new Map<string, Grant>();
  /** Counts in this process alone while the store cannot be reached. */
  private readonly fallback = new RateCounters();
  private lastSweep = Date.now();
  private unreachableSince: number | undefined;

  constructor(private readonly store: GrantStore) {}

  /**
   * Charges `points` (at most `limit`) to `key`'s counter of the `windowMs` window under way,
   * named `name`; answers the ms until that window ends when it has not enough points left
   * (nothing is charged then).
   */
  async take(
    name: string,
    key: string,
    limit: number,
    windowMs: number,
    points: number,
  ): Promise<number | undefined> {
    const id = `${name}:${key}`;
    const p = Math.min(points, limit);
    // A reservation answers the window's state, so a second attempt settles it; a store that
    // answers nonsense gets no more than a few.
    for (let reservations = 0; reservations < 4;) {
      const now = Date.now();
      let g = this.grants.get(id);
      if (!g || (g.expire !== 0 && g.expire <= now && !g.reserving)) {
        g = { expire: 0, left: 0, total: 0 };
        this.grants.set(id, g);
      }
      const live = g.expire > now;
      if (live && g.left >= p) {
        g.left -= p;
        return undefined;
      }
      if (g.reserving) {
        await g.reserving;
        continue;
      }
      // The shared counter is spent for this window: refuse without asking again.
      if (live && g.total >= limit) return g.expire - now;
      const need = live ? p - g.left : p;
      const want = Math.max(need, Math.ceil((limit - (live ? g.total : 0)) / 4));
      reservations++;
      const reservation = this.reserve(id, g, want, limit, windowMs, now);
      g.reserving = reservation;
      const ok = await reservation.finally(() => (g.reserving = undefined));
      if (!ok) return this.fallback.take(name, key, limit, windowMs, points);
      const after = Date.now();
      if (g.left >= p && g.expire > after) {
        g.left -= p;
        return undefined;
      }
      if (g.expire > after && g.total >= limit) return g.expire - after;
      // The window ended while the reservation was under way: again, in the next one.
    }
    return this.fallback.take(name, key, limit, windowMs, points);
  }

  /** Reserves `want` points into `g`; false when the store cannot be reached. */
  private async reserve(
    id: string,
    g: Grant,
    want: number,
    limit: number,
    windowMs: number,
    now: number,
  ): Promise<boolean> {
    try {
      const r = await this.store.reserve(id, want, limit, now + windowMs, now);
      // Points reserved in a window that has ended lapse with it.
      if (r.expire !== g.expire) g.left = 0;
      g.expire = r.expire;
      g.left += r.granted;
      g.total = r.points;
      if (this.unreachableSince !== undefined) {
        logger.info('rate limit counters are shared again');
        this.unreachableSince = undefined;
      }
      this.sweep(now);
      return true;
    } catch (err) {
      if (this.unreachableSince === undefined) {
        this.unreachableSince = now;
        logger.warn({ err }, 'rate limit counters could not be shared; counting in this process');
      }
      return false;
    }
  }

  /** Forgets ended windows here and, now and then, in the store. */
  private sweep(now: number): void {
    if (now - this.lastSweep < SWEEP_MS) return;
    this.lastSweep = now;
    for (const [id, g] of this.grants) {
      if (g.expire <= now && !g.reserving) this.grants.delete(id);
    }
    this.store.deleteExpired(now - SWEEP_MS).catch((err: unknown) => {
      logger.warn({ err }, 'ended rate limit windows could not be dropped');
    });
  }
}
