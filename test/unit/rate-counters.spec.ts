import { RateCounters, type CounterStore } from '../../src/http/rate-counters';

/** The shared table, in memory: what two processes' syncs would find in PostgreSQL. */
function memoryStore(): CounterStore & { statements: number } {
  const rows = new Map<string, { points: number; expire: number }>();
  const store = {
    statements: 0,
    async add(keys: string[], points: number[], expire: number[], nowMs: number) {
      store.statements++;
      const out = new Map<string, { points: number; expire: number }>();
      keys.forEach((k, i) => {
        const row = rows.get(k);
        const next =
          !row || row.expire <= nowMs
            ? { points: points[i], expire: expire[i] }
            : { points: row.points + points[i], expire: row.expire };
        rows.set(k, next);
        out.set(k, next);
      });
      return out;
    },
    async deleteExpired() {},
  };
  return store;
}

describe('RateCounters', () => {
  it('holds a key to its limit in a window that starts with its first request', () => {
    const c = new RateCounters();
    const t0 = 1_000_500;
    for (let i = 0; i < 5; i++) expect(c.take('requests', 'k', 5, 1000, 1, t0 + i)).toBeUndefined();
    expect(c.take('requests', 'k', 5, 1000, 1, t0 + 10)).toBe(990);
    // Another key has its own budget; the window ends a second after the first request.
    expect(c.take('requests', 'other', 5, 1000, 1, t0 + 10)).toBeUndefined();
    expect(c.take('requests', 'k', 5, 1000, 1, t0 + 999)).toBe(1);
    expect(c.take('requests', 'k', 5, 1000, 1, t0 + 1000)).toBeUndefined();
  });

  it('counts a cost above the limit as the limit, so one large operation passes alone', () => {
    const c = new RateCounters();
    expect(c.take('cost', 'k', 150, 1000, 201, 0)).toBeUndefined();
    expect(c.take('cost', 'k', 150, 1000, 1, 1)).toBe(999);
  });

  it('shares the counts of two processes through the store within a sync, one statement each', async () => {
    const store = memoryStore();
    const a = new RateCounters(store, { syncMs: 1_000_000 });
    const b = new RateCounters(store, { syncMs: 1_000_000 });
    const now = Date.now();
    for (let i = 0; i < 3; i++) expect(a.take('requests', 'k', 5, 60_000, 1, now)).toBeUndefined();
    a.take('requests', 'other', 5, 60_000, 1, now);
    await a.sync();
    expect(store.statements).toBe(1);
    // b learns a's three at its own first sync, and refuses from then on.
    expect(b.take('requests', 'k', 5, 60_000, 1, now)).toBeUndefined();
    await b.sync();
    expect(b.take('requests', 'k', 5, 60_000, 1, now)).toBeUndefined();
    expect(b.take('requests', 'k', 5, 60_000, 1, now)).toBeGreaterThan(0);
    await b.sync();
    // a learns b's share when it syncs its own next charge (within one sync interval).
    expect(a.take('requests', 'k', 5, 60_000, 1, now)).toBeUndefined();
    await a.sync();
    expect(a.take('requests', 'k', 5, 60_000, 1, now)).toBeGreaterThan(0);
    await a.stop();
    await b.stop();
  });

  it('goes on counting alone when the store cannot be reached', async () => {
    const failing: CounterStore = {
      add: () => Promise.reject(new Error('down')),
      deleteExpired: () => Promise.resolve(),
    };
    const c = new RateCounters(failing, { syncMs: 1_000_000 });
    const now = Date.now();
    c.take('requests', 'k', 2, 60_000, 1, now);
    await c.sync();
    expect(c.take('requests', 'k', 2, 60_000, 1, now)).toBeUndefined();
    expect(c.take('requests', 'k', 2, 60_000, 1, now)).toBeGreaterThan(0);
    await c.stop();
  });
});
