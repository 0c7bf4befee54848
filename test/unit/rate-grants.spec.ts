import { RateGrants, type GrantStore } from '../../src/http/rate-grants';

/** The shared table, in memory, with the semantics of `reserveFromCounter`/`startCounter`. */
function memoryStore(): GrantStore & {
  statements: number;
  rows: Map<string, { points: number; expire: number }>;
} {
  const rows = new Map<string, { points: number; expire: number }>();
  const store = {
    statements: 0,
    rows,
    async reserve(key: string, want: number, limit: number, expire: number, nowMs: number) {
      store.statements++;
      // A round trip: other processes' reservations may come first.
      await new Promise((r) => setImmediate(r));
      const row = rows.get(key);
      const fresh = !row || row.expire <= nowMs;
      const before = fresh ? 0 : row.points;
      const granted = Math.min(want, Math.max(0, limit - before));
      const next = { points: before + granted, expire: fresh ? expire : row.expire };
      rows.set(key, next);
      return { granted, ...next };
    },
    async deleteExpired() {},
  };
  return store;
}

const allowed = (waits: (number | undefined)[]) => waits.filter((w) => w === undefined).length;

describe('RateGrants', () => {
  it('lets exactly the limit through across processes charging one key at once', async () => {
    const store = memoryStore();
    const a = new RateGrants(store);
    const b = new RateGrants(store);
    const waits = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take('requests', 'k', 25, 60_000, 1)),
    );
    expect(allowed(waits)).toBe(25);
    expect(store.rows.get('requests:k')?.points).toBe(25);
    // A refusal says how long the window has left.
    for (const w of waits) if (w !== undefined) expect(w).toBeGreaterThan(59_000);
  });

  it('charges from its reservation in memory: a key far from its limit costs a statement now and then', async () => {
    const store = memoryStore();
    const g = new RateGrants(store);
    for (let i = 0; i < 100; i++)
      expect(await g.take('requests', 'k', 500, 60_000, 1)).toBeUndefined();
    expect(store.statements).toBe(1);
    // A cost of 50 per operation under a limit of 100,000: 300 operations, a few statements.
    for (let i = 0; i < 300; i++)
      expect(await g.take('cost', 'k', 100_000, 60_000, 50)).toBeUndefined();
    expect(store.statements).toBeLessThanOrEqual(3);
  });

  it('refuses without a statement once the shared counter is spent, and starts again with the next window', async () => {
    const store = memoryStore();
    const g = new RateGrants(store);
    for (let i = 0; i < 5; i++) expect(await g.take('requests', 'k', 5, 200, 1)).toBeUndefined();
    const statements = store.statements;
    expect(await g.take('requests', 'k', 5, 200, 1)).toBeGreaterThan(0);
    expect(await g.take('requests', 'k', 5, 200, 1)).toBeGreaterThan(0);
    expect(store.statements).toBe(statements);
    await new Promise((r) => setTimeout(r, 250));
    expect(await g.take('requests', 'k', 5, 200, 1)).toBeUndefined();
  });

  it('counts a cost above the limit as the limit, so one large operation passes alone', async () => {
    const g = new RateGrants(memoryStore());
    expect(await g.take('cost', 'k', 150, 60_000, 201)).toBeUndefined();
    expect(await g.take('cost', 'k', 150, 60_000, 1)).toBeGreaterThan(0);
  });

  it('goes on counting alone when the store cannot be reached', async () => {
    const g = new RateGrants({
      reserve: () => Promise.reject(new Error('down')),
      deleteExpired: () => Promise.resolve(),
    });
    expect(await g.take('requests', 'k', 2, 60_000, 1)).toBeUndefined();
    expect(await g.take('requests', 'k', 2, 60_000, 1)).toBeUndefined();
    expect(await g.take('requests', 'k', 2, 60_000, 1)).toBeGreaterThan(0);
  });
});
