import crypto from 'node:crypto';
import { QuarryClient } from '@quarry/client';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ApiKeyRole } from '../../src/entities';
import { queueDataset, subscribe } from '../helpers/queues';
import { codeOf, describeEachDb, startTestServer, type TestServer } from '../helpers/server';

const APP = 'https://app.example';
const VIEWER = '{ viewer { id role } }';

async function post(t: TestServer, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(t.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${t.adminKey}`,
      ...headers,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

function sha256(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/** Opens a graphql-ws connection with an Origin header and tells how it ended. */
async function connectFrom(t: TestServer, origin: string): Promise<unknown> {
  class WithOrigin extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { origin });
    }
  }
  const client = createClient({
    url: t.url.replace(/^http/, 'ws'),
    webSocketImpl: WithOrigin,
    connectionParams: { authorization: `Bearer ${t.adminKey}` },
    retryAttempts: 0,
  });
  try {
    return await new Promise((resolve) => {
      client.subscribe(
        { query: VIEWER },
        { next: () => undefined, error: resolve, complete: () => resolve('completed') },
      );
    });
  } finally {
    await client.dispose();
  }
}

describeEachDb('HTTP settings: defaults', (t) => {
  it('answers an APQ hash that does not match its query with BAD_REQUEST, not a masked 500', async () => {
    const res = await post(t(), {
      query: VIEWER,
      extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({
      message: 'provided sha does not match query',
      extensions: { code: 'BAD_REQUEST' },
    });
  });

  it('speaks the APQ protocol: unknown hash, registration, then the hash alone', async () => {
    const query = '{ viewer { role } }';
    const persistedQuery = { version: 1, sha256Hash: sha256(query) };
    const miss = await post(t(), { extensions: { persistedQuery } });
    expect(codeOf(miss.body)).toBe('PERSISTED_QUERY_NOT_FOUND');
    const registered = await post(t(), { query, extensions: { persistedQuery } });
    expect(registered.body.data).toEqual({ viewer: { role: 'ADMIN' } });
    const hit = await post(t(), { extensions: { persistedQuery } });
    expect(hit.body.data).toEqual({ viewer: { role: 'ADMIN' } });
  });

  it('allows any origin by default', async () => {
    const res = await post(t(), { query: VIEWER }, { origin: 'https://anywhere.example' });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it("refuses a GET query without a CSRF header (urql's default), answers one with it", async () => {
    const url = `${t().url}?query=${encodeURIComponent(VIEWER)}`;
    const auth = { authorization: `Bearer ${t().adminKey}` };
    const blocked = await fetch(url, { headers: auth });
    expect(blocked.status).toBe(400);
    expect(((await blocked.json()) as any).errors[0].extensions.code).toBe('BAD_REQUEST');
    const allowed = await fetch(url, { headers: { ...auth, 'apollo-require-preflight': 'true' } });
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as any).data.viewer.role).toBe('ADMIN');
  });
});

describeEachDb(
  'HTTP settings: locked down',
  (t) => {
    it('answers CORS for the allowed origins only', async () => {
      const preflight = (origin: string) =>
        fetch(t().url, {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type,authorization',
          },
        });
      const ok = await preflight(APP);
      expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
      const other = await preflight('https://evil.example');
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('refuses WebSocket connections from other origins', async () => {
      expect(await connectFrom(t(), APP)).toBe('completed');
      const refused = (await connectFrom(t(), 'https://evil.example')) as { code?: number };
      expect(refused.code).toBe(4403);
    });

    it('refuses introspection over HTTP and WebSocket when it is off', async () => {
      const res = await post(t(), { query: '{ __schema { queryType { name } } }' });
      expect(codeOf(res.body)).toBe('GRAPHQL_VALIDATION_FAILED');
      await expect(
        subscribe(t().url, t().adminKey, '{ __type(name: "Query") { name } }', {}),
      ).rejects.toThrow(/GRAPHQL_VALIDATION_FAILED/);
      expect((await post(t(), { query: VIEWER })).body.data.viewer.role).toBe('ADMIN');
    });

    it("limits ANNOTATOR keys to the SDK's documents, on HTTP and WebSocket", async () => {
      const d = await queueDataset(t(), 'persisted', { items: 2 });
      const annotator = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
      // The SDK sends its own documents: allowed.
      const sdk = new QuarryClient({ url: t().url, apiKey: annotator });
      expect((await sdk.datasets.get(d)).id).toBe(d);
      // Any other document: FORBIDDEN, and nothing runs.
      const adHoc = await post(t(), { query: VIEWER }, { authorization: `Bearer ${annotator}` });
      expect(adHoc.status).toBe(403);
      expect(codeOf(adHoc.body)).toBe('FORBIDDEN');
      const refused = await subscribe(t().url, annotator, VIEWER, {}).then(
        () => 'subscribed',
        (e: unknown) => JSON.stringify(e instanceof Error ? e.message : e),
      );
      expect(refused).toMatch(/FORBIDDEN/);
      // Other roles are not limited.
      const service = await t().createKey(ApiKeyRole.SERVICE, [d]);
      const free = await post(t(), { query: VIEWER }, { authorization: `Bearer ${service}` });
      expect(free.body.data.viewer.role).toBe('SERVICE');
    });
  },
  {
    corsOrigins: [APP],
    introspection: false,
    persistedDocumentsOnlyRoles: ['ANNOTATOR'],
  },
);

describe('HTTP settings: APQ off', () => {
  it('answers PERSISTED_QUERY_NOT_SUPPORTED', async () => {
    const t = await startTestServer('pglite', { apq: false });
    try {
      const query = VIEWER;
      const res = await post(t, {
        query,
        extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } },
      });
      expect(codeOf(res.body)).toBe('PERSISTED_QUERY_NOT_SUPPORTED');
      expect((await post(t, { query })).body.data.viewer.role).toBe('ADMIN');
    } finally {
      await t.stop();
    }
  });
});
