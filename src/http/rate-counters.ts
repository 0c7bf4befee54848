/**
 * The counters behind the per-key rate limits: fixed windows (of a second, for requests and
 * cost) that start with a key's first request (as rate-limiter-flexible's do), charged in this
 * process's memory, so a request costs no statement. With a store (the
 * `quarry_rate_limit` table on PostgreSQL), every {@link RateCounterOptions.syncMs} the points
 * charged since the last sync are added to the shared counters in one statement, which answers
 * the totals of every process: from then on each process refuses on the shared total.
 *
 * What that costs in precision: a key whose requests all go to one process is held to its limit
 * exactly; a key spread over P processes is held to it within one sync interval (the others'
 * share is seen at the next sync), so a burst that reaches all P at the same moment may pass up
 * to P times the limit in that window.
 */
import { logger } from '../logger';

/** Where counters are shared between processes. */
export interface CounterStore {
  /**
   * Adds points to counters (keys sorted); a counter whose window ended by `nowMs` starts again
   * with the window ending at `expire` (ms since the epoch). Answers each counter's total and
   * window end.
   */
  add(
    keys: string[],
    points: number[],
    expire: number[],
    nowMs: number,
  ): Promise<Map<string, { points: number; expire: number }>>;
  /** Drops counters whose window ended before `beforeMs`. */
  deleteExpired(beforeMs: number): Promise<void>;
}

export interface RateCounterOptions {
  /** How often charged points go to the store, ms. */
  syncMs: number;
  /** How often ended windows are dropped (from memory, and from the store), ms. */
  sweepMs: number;
}

const DEFAULTS: RateCounterOptions = { syncMs: 50, sweepMs: 30_000 };

interface Counter {
  /** End of the counter's window, ms since the epoch. */
  expire: number;
  /** The shared total as the store last answered it (this process's synced points included). */
  total: number;
  /** Points being added to the store now. */
  inFlight: number;
  /** Points charged here since the last sync. */
  pending: number;
}

/** The counters of one process (every limit of it shares one sync statement). */
export class RateCounters {
  private readonly counters = new Map<string, Counter>();
  private readonly opts: RateCounterOptions;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private lastSweep = Date.now();
  private stopped = false;

  constructor(
    private readonly store?: CounterStore,
    opts: Partial<RateCounterOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /**
   * Charges `points` (at most `limit`) to `key`'s counter of the `windowMs` window under way,
   * named `name`; answers the ms until that window ends when it has not enough points left
   * (nothing is charged then).
   */
  take(
    name: string,
    key: string,
    limit: number,
    windowMs: number,
    points: number,
    now = Date.now(),
  ): number | undefined {
    const id = `${name}:${key}`;
    let c = this.counters.get(id);
    if (!c || c.expire <= now) {
      // A sync still under way for the window that ended answers into the old counter.
      c = { expire: now + windowMs, total: 0, inFlight: 0, pending: 0 };
      this.counters.set(id, c);
    }
    const p = Math.min(points, limit);
    if (c.total + c.inFlight + c.pending + p > limit) return c.expire - now;
    c.pending += p;
    if (this.store) this.schedule();
    else if (now - this.lastSweep > this.opts.sweepMs) this.sweep(now);
    return undefined;
  }

  /** Sends what is pending now and stops syncing. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.sync();
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sync();
    }, this.opts.syncMs);
    this.timer.unref();
  }

  /** Sends every pending charge to the store in one statement (one sync at a time). */
  sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.syncOnce());
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const store = this.store;
    if (!store) return;
    const now = Date.now();
    const batch: { id: string; c: Counter; points: number }[] = [];
    for (const [id, c] of this.counters) {
      if (c.pending === 0) continue;
      batch.push({ id, c, points: c.pending });
      c.inFlight += c.pending;
      c.pending = 0;
    }
    if (batch.length > 0) {
      batch.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      try {
        const totals = await store.add(
          batch.map((b) => b.id),
          batch.map((b) => b.points),
          batch.map((b) => b.c.expire),
          now,
        );
        for (const b of batch) {
          b.c.inFlight -= b.points;
          const shared = totals.get(b.id);
          // The window another process started first is the key's window everywhere.
          if (shared && shared.expire > now) {
            b.c.total = shared.points;
            b.c.expire = shared.expire;
          } else {
            b.c.total += b.points;
          }
        }
      } catch (err) {
        // The store cannot be reached: this process goes on counting on its own.
        for (const b of batch) {
          b.c.inFlight -= b.points;
          b.c.total += b.points;
        }
        logger.warn({ err }, 'rate limit counters could not be shared; counting in this process');
      }
    }
    if (now - this.lastSweep > this.opts.sweepMs) {
      this.sweep(now);
      await store.deleteExpired(now - this.opts.sweepMs).catch((err: unknown) => {
        logger.warn({ err }, 'ended rate limit windows could not be dropped');
      });
    }
  }

  /** Forgets counters whose window ended. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [id, c] of this.counters) {
      if (c.expire <= now && c.pending === 0 && c.inFlight === 0) this.counters.delete(id);
    }
  }
}
