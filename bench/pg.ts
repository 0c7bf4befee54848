import { Client } from 'pg';

/** The PostgreSQL server benchmarks use: QUARRY_BENCH_PG_URL, else the local one (postgres or root). */
export async function benchPgUrl(): Promise<string | undefined> {
  const candidates = process.env.QUARRY_BENCH_PG_URL
    ? [process.env.QUARRY_BENCH_PG_URL]
    : ['postgres://postgres@127.0.0.1:5432/test', 'postgres://root@127.0.0.1:5432/test'];
  for (const url of candidates) {
    const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      return url;
    } catch {
      // try the next
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  return undefined;
}
