import { ApiKeyRole } from '../../src/entities';
import { serve, stopProcess, type Served } from '../helpers/process';
import { CLAIM, SUBMIT, openRound, queueDataset } from '../helpers/queues';
import { codeOf, describeEachDb, startTestServer } from '../helpers/server';

const TOKEN = 'metrics-token-for-tests';

/** A sample's value in Prometheus text, 0 when absent; labels must all match. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return 0;
}

async function scrape(url: string, key: string | null = TOKEN) {
  const res = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describeEachDb(
  'metrics',
  (t) => {
    const metricsUrl = () => t().url.replace(/\/graphql$/, '/metrics');

    it('counts a known sequence of operations by the right amounts', async () => {
      const d = await queueDataset(t(), 'metrics', { items: 12 });
      await openRound(t(), d, 6);
      const before = (await scrape(metricsUrl())).text;
      const claimOp = CLAIM.replace('mutation(', 'mutation Claim(');
      const submitOp = SUBMIT.replace('mutation(', 'mutation Submit(');
      const { claimQueries } = await t().ok(claimOp, { d, n: 2 });
      await t().ok(submitOp, { q: claimQueries[0].query.id, v: 'cat', t: claimQueries[0].token });
      const bad = await t().gql(submitOp, {
        q: claimQueries[1].query.id,
        v: 'not-a-class',
        t: claimQueries[1].token,
      });
      expect(codeOf(bad)).toBe('BAD_USER_INPUT');
      const after = await scrape(metricsUrl());
      expect(after.status).toBe(200);
      expect(after.type).toMatch(/^text\/plain; version=0\.0\.4/);
      const delta = (name: string, labels: Record<string, string> = {}) =>
        sample(after.text, name, labels) - sample(before, name, labels);
      const ds = { dataset_id: d };
      expect(delta('quarry_queue_claims_total', ds)).toBe(1);
      expect(delta('quarry_queue_claimed_queries_total', ds)).toBe(2);
      expect(delta('quarry_queue_submits_total', ds)).toBe(1);
      expect(delta('quarry_queue_answers_total', { ...ds, status: 'ANSWERED' })).toBe(1);
      const ops = 'quarry_graphql_operations_total';
      expect(delta(ops, { operation: 'Claim', type: 'mutation', code: 'OK' })).toBe(1);
      expect(delta(ops, { operation: 'Submit', type: 'mutation', code: 'OK' })).toBe(1);
      expect(delta(ops, { operation: 'Submit', type: 'mutation', code: 'BAD_USER_INPUT' })).toBe(1);
      const hist = 'quarry_graphql_operation_duration_seconds_count';
      expect(delta(hist, { operation: 'Submit', type: 'mutation' })).toBe(2);
      // Read from the database when scraped: 6 open, 1 answered, 1 still held.
      expect(sample(after.text, 'quarry_queue_open_queries', ds)).toBe(5);
      expect(sample(after.text, 'quarry_queue_held_queries', ds)).toBe(1);
      expect(sample(after.text, 'quarry_rounds', { status: 'OPEN' })).toBeGreaterThanOrEqual(1);
      expect(delta('quarry_rounds_finished_total', { status: 'OPEN' })).toBe(0);
      expect(
        sample(after.text, 'quarry_job_queue_jobs', { queue: 'quarry-round' }),
      ).toBeGreaterThan(0);
      expect(sample(after.text, 'quarry_inference_pool_threads')).toBeGreaterThan(0);
      expect(sample(after.text, 'quarry_db_pool_connections', { state: 'total' })).toBeGreaterThan(
        0,
      );
      expect(sample(after.text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    });

    it('counts the round a job ran, with its duration', async () => {
      const d = await queueDataset(t(), 'metrics-round', { items: 5 });
      const before = (await scrape(metricsUrl())).text;
      await openRound(t(), d, 2);
      const after = (await scrape(metricsUrl())).text;
      const delta = (name: string, labels: Record<string, string>) =>
        sample(after, name, labels) - sample(before, name, labels);
      expect(delta('quarry_rounds_finished_total', { status: 'OPEN' })).toBe(1);
      expect(delta('quarry_round_duration_seconds_count', { status: 'OPEN' })).toBe(1);
    });

    it('answers only the metrics token or an ADMIN key', async () => {
      expect((await scrape(metricsUrl(), null)).status).toBe(401);
      expect((await scrape(metricsUrl(), 'wrong')).status).toBe(401);
      const service = await t().createKey(ApiKeyRole.SERVICE);
      expect((await scrape(metricsUrl(), service)).status).toBe(403);
      expect((await scrape(metricsUrl(), t().adminKey)).status).toBe(200);
    });

    it('gives every request an id: in a header, in error extensions, kept when sent', async () => {
      const res = await fetch(t().url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'trace-abc.123' },
        body: JSON.stringify({ query: '{ viewer { id } }' }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('x-request-id')).toBe('trace-abc.123');
      const body = (await res.json()) as { errors: { extensions: Record<string, unknown> }[] };
      expect(body.errors[0].extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        requestId: 'trace-abc.123',
      });
      const bad = await fetch(t().url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${t().adminKey}`,
          'x-request-id': 'no spaces allowed',
        },
        body: JSON.stringify({ query: '{ dataset(id: "nope") { id } }' }),
      });
      const id = bad.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      const badBody = (await bad.json()) as { errors: { extensions: Record<string, unknown> }[] };
      expect(badBody.errors[0].extensions).toMatchObject({ code: 'NOT_FOUND', requestId: id });
    });
  },
  { metricsToken: TOKEN },
);

describe('metrics on a port of their own', () => {
  it('serves /metrics without authentication on QUARRY_METRICS_PORT', async () => {
    const t = await startTestServer('pglite', { metricsPort: 0 });
    try {
      const port = t.server.metricsPort!;
      expect(port).toBeGreaterThan(0);
      const res = await scrape(`http://127.0.0.1:${port}/metrics`, null);
      expect(res.status).toBe(200);
      expect(res.text).toContain('quarry_graphql_operations_total');
      // Not on the main port without a token or an ADMIN key.
      expect((await scrape(t.url.replace(/\/graphql$/, '/metrics'), null)).status).toBe(401);
    } finally {
      await t.stop();
    }
  });
});

describe('request log', () => {
  let s: Served | undefined;

  beforeAll(async () => {
    s = await serve({ QUARRY_DATA_DIR: 'memory://', QUARRY_SLOW_REQUEST_MS: '0' });
  }, 60_000);
  afterAll(async () => {
    if (s) await stopProcess(s);
  });

  it('writes one line per request with its id, operation, key id, status and error code', async () => {
    const res = await fetch(s!.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer qk_not_a_real_key',
        'x-request-id': 'log-line-1',
      },
      body: JSON.stringify({ query: 'query Who { viewer { id } }', operationName: 'Who' }),
    });
    expect(res.status).toBe(401);
    const lines = () =>
      s!
        .output()
        .split('\n')
        .filter((l) => l.includes('"reqId":"log-line-1"'));
    for (let i = 0; i < 50 && lines().length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(lines()).toHaveLength(1);
    const line = JSON.parse(lines()[0]);
    expect(line).toMatchObject({
      msg: 'request',
      method: 'POST',
      path: '/graphql',
      status: 401,
      code: 'UNAUTHENTICATED',
      // QUARRY_SLOW_REQUEST_MS=0: every request is slow, so logged at warn (pino level 40).
      level: 40,
      slow: true,
    });
    expect(typeof line.ms).toBe('number');
    expect(s!.output()).not.toContain('qk_not_a_real_key');

    // The first ADMIN key of an in-memory database is printed once at start-up.
    const adminKey = /"apiKey":"(qk_[^"]+)"/.exec(s!.output())![1];
    const ok = await fetch(s!.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${adminKey}`,
        'x-request-id': 'log-line-2',
      },
      body: JSON.stringify({ query: 'query Who { viewer { id } }' }),
    });
    const { data } = (await ok.json()) as { data: { viewer: { id: string } } };
    const second = () =>
      s!
        .output()
        .split('\n')
        .filter((l) => l.includes('"reqId":"log-line-2"'));
    for (let i = 0; i < 50 && second().length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(second()).toHaveLength(1);
    expect(JSON.parse(second()[0])).toMatchObject({
      status: 200,
      operation: 'Who',
      operationType: 'query',
      keyId: data.viewer.id,
    });
    expect(second()[0]).not.toContain(adminKey);
  });

  it('logs an APQ hash that does not match its query as a BAD_REQUEST line, without a stack trace', async () => {
    const adminKey = /"apiKey":"(qk_[^"]+)"/.exec(s!.output())![1];
    const res = await fetch(s!.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${adminKey}`,
        'x-request-id': 'apq-mismatch',
      },
      body: JSON.stringify({
        query: '{ viewer { id } }',
        extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } },
      }),
    });
    expect(res.status).toBe(400);
    const lines = () =>
      s!
        .output()
        .split('\n')
        .filter((l) => l.includes('"reqId":"apq-mismatch"'));
    for (let i = 0; i < 50 && lines().length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(lines()).toHaveLength(1);
    expect(JSON.parse(lines()[0])).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    // Nothing logged as a server fault (the masked INTERNAL_SERVER_ERROR logged its stack).
    expect(s!.output()).not.toMatch(/unexpected error|"stack":/);
  });
});
