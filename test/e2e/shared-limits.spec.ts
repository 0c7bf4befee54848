/**
 * What two servers sharing one PostgreSQL database share of the edge: the per-key rate limits
 * (by default reserved from the shared counter in chunks, exact; with QUARRY_RATE_LIMIT_SYNC_MS:
 * charged in memory, synced through the database) and the revocation of a key each has cached.
 */
import { DEFAULT_CONFIG, loadConfig } from '../../src/config';
import { ApiKeyRole } from '../../src/entities';
import { dbStatements } from '../../src/metrics';
import { AUTH_CACHE_MS } from '../../src/services/api-key.service';
import { startServer, type QuarryServer } from '../../src/server';
import { backends } from '../helpers/db';
import { startTestServer, type TestServer } from '../helpers/server';

const edge = {
  ...DEFAULT_CONFIG.edge,
  requestsPerSecond: { ...DEFAULT_CONFIG.edge.requestsPerSecond, ANNOTATOR: 5 },
  // Charged in memory and shared every 50 ms (QUARRY_RATE_LIMIT_SYNC_MS).
  rateLimitSyncMs: 50,
};

/** Statements sent to PostgreSQL so far by this (test) process, both servers included. */
async function statements(): Promise<number> {
  return (await dbStatements.get()).values.reduce((sum, v) => sum + v.value, 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `{ viewer { id } }` with `key`; the HTTP status. */
async function viewer(url: string, key: string): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: '{ viewer { id } }' }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Two servers on one fresh PostgreSQL database with the edge limits `limits`, for a describe block. */
function twoServers(limits: typeof edge) {
  const servers = {} as {
    a: TestServer & { stop(): Promise<void> };
    b: QuarryServer;
    bUrl: string;
  };
  beforeAll(async () => {
    servers.a = await startTestServer('postgres', { edge: limits });
    const config = loadConfig(
      {},
      {
        port: 0,
        host: '127.0.0.1',
        dataDir: 'memory://',
        databaseUrl: servers.a.databaseUrl,
        edge: limits,
      },
    );
    servers.b = await startServer(config, { bootstrapAdminKey: false, runJobs: false });
    servers.bUrl = `http://127.0.0.1:${servers.b.port}/graphql`;
  }, 120_000);
  afterAll(async () => {
    await servers.b?.stop();
    await servers.a?.stop();
  }, 60_000);
  return servers;
}

(backends().includes('postgres') ? describe : describe.skip)(
  'two servers on one database, limits reserved from the shared counter (the default)',
  () => {
    const limit = 10;
    const servers = twoServers({
      ...DEFAULT_CONFIG.edge,
      requestsPerSecond: { ...DEFAULT_CONFIG.edge.requestsPerSecond, ANNOTATOR: limit },
    });

    it('lets exactly the limit through when both servers take the requests of one key at once', async () => {
      const { a, bUrl } = servers;
      const { secret, key } = await a.server.services.apiKeys.create({
        name: 'exact across servers',
        role: ApiKeyRole.ANNOTATOR,
      });
      // The burst must fit in one window (a second): on a machine too slow for that, try again.
      for (let attempt = 0; ; attempt++) {
        await sleep(1100);
        const started = performance.now();
        const statuses = await Promise.all(
          Array.from({ length: 24 }, (_, i) => viewer(i % 2 ? a.url : bUrl, secret)),
        );
        if (performance.now() - started > 900 && attempt < 5) continue;
        expect(statuses.filter((s) => s === 200)).toHaveLength(limit);
        expect(statuses.filter((s) => s === 429)).toHaveLength(24 - limit);
        const [row] = await a.sql<{ points: number }>(
          'SELECT points FROM quarry_rate_limit WHERE key = $1',
          [`requests:ANNOTATOR:${key.id}`],
        );
        expect(row.points).toBe(limit);
        return;
      }
    });

    it('charges a key far from its limits without a statement per request', async () => {
      const { a } = servers;
      const { secret } = await a.server.services.apiKeys.create({
        name: 'cheap charges',
        role: ApiKeyRole.SERVICE,
      });
      expect(await viewer(a.url, secret)).toBe(200);
      const before = await statements();
      for (let i = 0; i < 40; i++) expect(await viewer(a.url, secret)).toBe(200);
      // Each request is charged twice (requests and cost); one statement each was 80 or more.
      expect((await statements()) - before).toBeLessThan(10);
    });
  },
);

(backends().includes('postgres') ? describe : describe.skip)('two servers on one database', () => {
  const servers = twoServers(edge);
  let a: TestServer & { stop(): Promise<void> };
  let bUrl: string;
  beforeAll(() => {
    ({ a, bUrl } = servers);
  });

  it('holds a key to its requests per second across both servers', async () => {
    const { secret, key } = await a.server.services.apiKeys.create({
      name: 'two servers',
      role: ApiKeyRole.ANNOTATOR,
    });
    /** The key's shared count of requests, once a server synced it (within 50 ms). */
    const shared = async (atLeast: number) => {
      for (let i = 0; i < 100; i++) {
        const [row] = await a.sql<{ points: number }>(
          'SELECT points FROM quarry_rate_limit WHERE key = $1',
          [`requests:ANNOTATOR:${key.id}`],
        );
        if (row && row.points >= atLeast) return;
        await sleep(10);
      }
    };
    // A round must fit in one second (the window): on a machine too slow for that, try again.
    for (let attempt = 0; ; attempt++) {
      await sleep(1100);
      const started = performance.now();
      const onA = await Promise.all(Array.from({ length: 4 }, () => viewer(a.url, secret)));
      await shared(4);
      // B has not counted any yet: it lets one through, and learns A's four at its sync.
      const first = await viewer(bUrl, secret);
      await shared(5);
      await sleep(50);
      const onB = await Promise.all(Array.from({ length: 4 }, () => viewer(bUrl, secret)));
      if (performance.now() - started > 900 && attempt < 5) continue;
      expect(onA).toEqual([200, 200, 200, 200]);
      expect(first).toBe(200);
      expect(onB).toEqual([429, 429, 429, 429]);
      return;
    }
  });

  it('refuses a key revoked on the other server at once, not after its cache lapses', async () => {
    const { secret, key } = await a.server.services.apiKeys.create({
      name: 'revoked elsewhere',
      role: ApiKeyRole.SERVICE,
    });
    expect(await viewer(bUrl, secret)).toBe(200);
    const revokedAt = performance.now();
    const res = await a.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: key.id });
    expect(res.errors).toBeUndefined();
    let status = 200;
    while (status === 200 && performance.now() - revokedAt < AUTH_CACHE_MS) {
      await sleep(50);
      status = await viewer(bUrl, secret);
    }
    expect(status).toBe(401);
    expect(performance.now() - revokedAt).toBeLessThan(AUTH_CACHE_MS / 2);
  });
});
