import { loadConfig, type QuarryConfig } from '../../src/config';
import { ApiKeyRole } from '../../src/entities';
import { startServer, type QuarryServer } from '../../src/server';
import { backends, freshDatabase, type BackendName } from './db';

export interface GqlResponse<T = any> {
  status: number;
  data?: T;
  errors?: {
    message: string;
    path?: string[];
    extensions?: { code?: string; [k: string]: unknown };
  }[];
}

/** A running server on a fresh database, with an ADMIN key, for one spec file. */
export interface TestServer {
  backend: BackendName;
  server: QuarryServer;
  url: string;
  /** The PostgreSQL database's URL (PostgreSQL only), for other processes to share it. */
  databaseUrl?: string;
  adminKey: string;
  /** Sends one GraphQL operation over HTTP (as the admin unless another key is given). */
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    key?: string | null,
  ): Promise<GqlResponse<T>>;
  /** Like gql, but fails the test on any error and returns the data. */
  ok<T = any>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<T>;
  createKey(role: ApiKeyRole, datasetIds?: string[]): Promise<string>;
  /** Runs SQL directly against the database (to check what was or was not written). */
  sql<T = any>(query: string, params?: unknown[]): Promise<T[]>;
}

export async function startTestServer(
  backend: BackendName,
  overrides: Partial<QuarryConfig> = {},
  opts: { runJobs?: boolean } = {},
): Promise<TestServer & { stop(): Promise<void> }> {
  const { db, url: databaseUrl, drop } = await freshDatabase(backend);
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', dataDir: 'memory://', ...overrides });
  const server = await startServer(config, { db, bootstrapAdminKey: false, runJobs: opts.runJobs });
  const { secret: adminKey } = await server.services.apiKeys.create({
    name: 'test admin',
    role: ApiKeyRole.ADMIN,
  });
  const url = `http://127.0.0.1:${server.port}/graphql`;
  const gql = async (
    query: string,
    variables: Record<string, unknown> = {},
    key: string | null = adminKey,
  ) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key) headers.authorization = `Bearer ${key}`;
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as Omit<GqlResponse, 'status'>;
    return { status: res.status, ...body } as GqlResponse;
  };
  return {
    backend,
    server,
    url,
    databaseUrl,
    adminKey,
    gql,
    ok: async (query, variables, key) => {
      const res = await gql(query, variables, key);
      if (res.errors) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors, null, 2)}`);
      return res.data;
    },
    createKey: async (role, datasetIds) =>
      (
        await server.services.apiKeys.create({
          name: `test ${role}`,
          role,
          datasetIds: datasetIds ?? null,
        })
      ).secret,
    sql: (query, params) => db.ds.query(query, params),
    stop: async () => {
      await server.stop();
      await drop();
    },
  };
}

/**
 * Declares the suite once per backend (`[pglite]`, `[postgres]`), each with its own server
 * and database, started before and dropped after the suite.
 */
export function describeEachDb(
  title: string,
  body: (t: () => TestServer) => void,
  overrides: Partial<QuarryConfig> = {},
): void {
  for (const backend of backends()) {
    describe(`${title} [${backend}]`, () => {
      let t: (TestServer & { stop(): Promise<void> }) | undefined;
      beforeAll(async () => {
        t = await startTestServer(backend, overrides);
      }, 120_000);
      afterAll(async () => {
        await t?.stop();
      }, 60_000);
      body(() => {
        if (!t) throw new Error('test server not started');
        return t;
      });
    });
  }
}

/** The error code of the first error of a response. */
export function codeOf(res: GqlResponse): string | undefined {
  return res.errors?.[0]?.extensions?.code;
}
