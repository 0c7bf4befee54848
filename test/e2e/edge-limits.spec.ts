import http from 'node:http';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { DEFAULT_CONFIG } from '../../src/config';
import { ApiKeyRole } from '../../src/entities';
import { codeOf, describeEachDb, type GqlResponse, type TestServer } from '../helpers/server';
import { openRound, queueDataset } from '../helpers/queues';

/** `{ round { queries { … round { queries { … } } } } }`, nested `levels` times. */
function deepRoundQuery(levels: number): string {
  let inner = 'id';
  for (let i = 0; i < levels; i++)
    inner = `queries(first: 50) { edges { node { round { ${inner} } } } }`;
  return `query($id: ID!) { round(id: $id) { ${inner} } }`;
}

/** `n` aliases of `field`, in one operation. */
function aliased(n: number, field: string, vars = ''): string {
  const parts = Array.from({ length: n }, (_, i) => `a${i}: ${field}`);
  return `query${vars} { ${parts.join(' ')} }`;
}

const rssMb = () => process.memoryUsage().rss / 1024 / 1024;

/** The response of an operation over WebSocket (graphql-ws), errors included. */
async function overWebSocket(t: TestServer, key: string, query: string, variables = {}) {
  const client = createClient({
    url: t.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
  });
  try {
    return await new Promise<{ data?: any; errors?: any[] }>((resolve, reject) => {
      let result: { data?: any; errors?: any[] } = {};
      client.subscribe(
        { query, variables },
        {
          next: (v) => {
            result = v as typeof result;
          },
          error: (e) => (Array.isArray(e) ? resolve({ errors: e }) : reject(e)),
          complete: () => resolve(result),
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

describeEachDb('query limits', (t) => {
  let d: string;
  let roundId: string;
  let annotator: string;

  beforeAll(async () => {
    d = await queueDataset(t(), 'limits', { items: 60 });
    roundId = await openRound(t(), d, 50);
    annotator = await t().createKey(ApiKeyRole.ANNOTATOR);
  });

  it('refuses a query nested deeper than the limit, naming the limit, and answers one within it', async () => {
    const res = await t().gql(deepRoundQuery(4), { id: roundId }, annotator);
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
    expect(res.errors![0].extensions).toMatchObject({ limit: 'depth', max: 12 });
    expect(res.errors![0].message).toContain('QUARRY_MAX_QUERY_DEPTH');
    const ok = await t().gql(deepRoundQuery(1), { id: roundId }, annotator);
    expect(ok.errors).toBeUndefined();
    expect(ok.data.round.queries.edges).toHaveLength(50);
  });

  it('pages Round.queries by rank with first and after', async () => {
    const Q = `query($id: ID!, $after: String) { round(id: $id) {
      queries(first: 20, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { rank } } } } }`;
    const ranks: number[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const { round }: { round: any } = await t().ok(Q, { id: roundId, after });
      ranks.push(...round.queries.edges.map((e: any) => e.node.rank));
      expect(round.queries.totalCount).toBe(50);
      if (!round.queries.pageInfo.hasNextPage) break;
      after = round.queries.pageInfo.endCursor;
    }
    expect(ranks).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const bad = await t().gql(
      `query($id: ID!) { round(id: $id) { queries(first: 5000) { totalCount } } }`,
      {
        id: roundId,
      },
    );
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
  });

  it('refuses more aliases than the limit', async () => {
    const res = await t().gql(aliased(31, 'viewer { id }'), {}, annotator);
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
    expect(res.errors![0].extensions).toMatchObject({ limit: 'aliases', max: 30, found: 31 });
    const ok = await t().gql(aliased(30, 'viewer { id }'), {}, annotator);
    expect(ok.errors).toBeUndefined();
  });

  it('refuses a document of more tokens than the limit before parsing the rest', async () => {
    const res = await t().gql(
      aliased(
        1000,
        'items(datasetId: $d, first: 200) { edges { node { id payload } } }',
        '($d: ID!)',
      ),
      { d },
      annotator,
    );
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
    expect(res.errors![0].extensions).toMatchObject({ limit: 'tokens', max: 5000 });
  });

  it('computes the cost from the page sizes and refuses an operation over the limit', async () => {
    // Each alias: 1 + 1000 × (edges 1 + node 1 + labels 1 + predictions 1) = 4001; five: 20005
    // (a nested connection costs 1 plus its first × what it selects: 0 here).
    const field =
      'items(datasetId: $d, first: 1000) { edges { node { labels(first: 0) { nodes { id } } predictions(first: 0) { nodes { modelId } } } } }';
    const res = await t().gql(aliased(5, field, '($d: ID!)'), { d });
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
    expect(res.errors![0].extensions).toMatchObject({ limit: 'cost', max: 20_000, found: 20_005 });
    // The page size may come from a variable.
    const viaVariable = await t().gql(
      aliased(5, field.replace('first: 1000', 'first: $n'), '($d: ID!, $n: Int)'),
      { d, n: 999 },
    );
    expect(viaVariable.errors).toBeUndefined();
    const four = await t().gql(aliased(4, field, '($d: ID!)'), { d });
    expect(four.errors).toBeUndefined();
  });

  it('applies the same limits to operations over WebSocket', async () => {
    const deep = await overWebSocket(t(), annotator, deepRoundQuery(4), { id: roundId });
    expect(deep.errors?.[0]?.extensions).toMatchObject({
      code: 'QUERY_TOO_COMPLEX',
      limit: 'depth',
    });
    const aliases = await overWebSocket(t(), annotator, aliased(31, 'viewer { id }'));
    expect(aliases.errors?.[0]?.extensions).toMatchObject({
      code: 'QUERY_TOO_COMPLEX',
      limit: 'aliases',
    });
    const ok = await overWebSocket(t(), annotator, '{ viewer { role } }');
    expect(ok.data).toEqual({ viewer: { role: 'ANNOTATOR' } });
  });

  it('refuses the crashing queries of issue 11 while memory stays flat and others are answered', async () => {
    const big = 'x'.repeat(5 * 1024 * 1024);
    await t()
      .ok(
        'mutation($d: ID!, $s: String) { updateDataset(id: $d, input: { description: $s }) { id } }',
        {
          d,
          s: big,
        },
      )
      .catch(() => undefined); // where descriptions are shorter, the aliases alone must be refused
    const attacks: [string, Record<string, unknown>][] = [
      [deepRoundQuery(8), { id: roundId }],
      [aliased(5000, 'datasets { nodes { id description budget { spent } } }'), {}],
      [
        aliased(
          5000,
          'labelQueue(datasetId: $d, first: 50) { edges { node { item { id } preLabel { classIndex } } } }',
          '($d: ID!)',
        ),
        { d },
      ],
      [
        aliased(
          1000,
          'items(datasetId: $d, first: 200) { edges { node { id payload } } }',
          '($d: ID!)',
        ),
        { d },
      ],
    ];
    const before = rssMb();
    const refused: GqlResponse[] = [];
    const viewers: GqlResponse[] = [];
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all([
        ...attacks.map(([q, v]) => t().gql(q, v, annotator)),
        t().gql('{ viewer { role } }', {}, annotator),
      ]);
      viewers.push(answers.pop()!);
      refused.push(...answers);
    }
    expect(refused.map(codeOf)).toEqual(refused.map(() => 'QUERY_TOO_COMPLEX'));
    expect(viewers.map((v) => v.data)).toEqual(
      viewers.map(() => ({ viewer: { role: 'ANNOTATOR' } })),
    );
    // Each attack ran the server out of memory (gigabytes) before the limits.
    expect(rssMb() - before).toBeLessThan(150);
  });
});

describeEachDb(
  'query limits turned off',
  (t) => {
    it('answers an operation over the default limits when they are 0', async () => {
      const res = await t().gql(aliased(31, 'viewer { id }'));
      expect(res.errors).toBeUndefined();
    });
  },
  { edge: { ...DEFAULT_CONFIG.edge, maxQueryAliases: 0 } },
);

describeEachDb(
  'rate limits',
  (t) => {
    let annotator: string;
    beforeAll(async () => {
      annotator = await t().createKey(ApiKeyRole.ANNOTATOR);
    });

    it('answers 429 RATE_LIMITED with Retry-After over the role’s requests per second, per key', async () => {
      const send = (key: string) =>
        fetch(t().url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query: '{ viewer { id } }' }),
        });
      const answers = await Promise.all(Array.from({ length: 12 }, () => send(annotator)));
      const limited = answers.filter((r) => r.status === 429);
      expect(answers.filter((r) => r.status === 200).length).toBeLessThanOrEqual(5);
      expect(limited.length).toBeGreaterThanOrEqual(7);
      expect(Number(limited[0].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = (await limited[0].json()) as GqlResponse;
      expect(codeOf(body)).toBe('RATE_LIMITED');
      // The request id, as in every error's extensions, is the one of the response's header.
      expect(body.errors![0].extensions!.requestId).toBe(limited[0].headers.get('x-request-id'));
      // Another role (and key) has its own budget.
      expect((await send(t().adminKey)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await send(annotator)).status).toBe(200);
    });

    it('answers 429 over the role’s query cost per second', async () => {
      await new Promise((r) => setTimeout(r, 1100));
      const d = await queueDataset(t(), 'cost', { items: 2 });
      // 1 + 100 × (edges 1 + node 1) = 201: more than the 150 a second allows, counted as 150.
      const Q = 'query($d: ID!) { items(datasetId: $d, first: 100) { edges { node { id } } } }';
      const first = await t().gql(Q, { d }, annotator);
      expect(first.errors).toBeUndefined();
      const second = await t().gql(Q, { d }, annotator);
      expect(second.status).toBe(429);
      expect(codeOf(second)).toBe('RATE_LIMITED');
    });
  },
  {
    edge: {
      ...DEFAULT_CONFIG.edge,
      requestsPerSecond: { ...DEFAULT_CONFIG.edge.requestsPerSecond, ANNOTATOR: 5 },
      costPerSecond: { ...DEFAULT_CONFIG.edge.costPerSecond, ANNOTATOR: 150 },
    },
  },
);

describeEachDb(
  'failed authentication',
  (t) => {
    it('is rate-limited per address: past the limit even a right guess waits', async () => {
      const working = await t().createKey(ApiKeyRole.ANNOTATOR);
      expect((await t().gql('{ viewer { id } }', {}, working)).status).toBe(200);
      const bad = await Promise.all(
        Array.from({ length: 5 }, () => t().gql('{ viewer { id } }', {}, 'qk_wrong')),
      );
      expect(bad.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
      const sixth = await fetch(t().url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer qk_wrong' },
        body: JSON.stringify({ query: '{ viewer { id } }' }),
      });
      expect(sixth.status).toBe(429);
      expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThan(0);
      const sixthBody = (await sixth.json()) as GqlResponse;
      expect(codeOf(sixthBody)).toBe('RATE_LIMITED');
      expect(sixthBody.errors![0].extensions!.requestId).toBe(sixth.headers.get('x-request-id'));
      // A valid key not used from here lately is a guess like any other: it waits too.
      const guess = await t().gql('{ viewer { id } }', {}, t().adminKey);
      expect(guess.status).toBe(429);
      // The key in use a moment ago goes on working.
      expect((await t().gql('{ viewer { id } }', {}, working)).status).toBe(200);
    });
  },
  { edge: { ...DEFAULT_CONFIG.edge, authFailuresPerMinute: 5 } },
);

/** Streams up to `bytes` of body to `url` until the server answers; what it answered and sent. */
function streamBody(
  url: string,
  bytes: number,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; sentBytes: number }> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    let answered = false;
    const req = http.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(bytes), ...headers },
    });
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode!, body, sentBytes: sent });
      });
    });
    req.on('error', (e) => (answered ? undefined : reject(e)));
    const pump = () => {
      while (!answered && sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (sent >= bytes) req.end();
    };
    pump();
  });
}

describeEachDb('authentication before the body', (t) => {
  it('answers an unauthenticated 128 MiB body 401 without reading it', async () => {
    const before = rssMb();
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => streamBody(t().url, 128 * 1024 * 1024, {})),
    );
    for (const a of answers) {
      expect(a.status).toBe(401);
      expect(JSON.parse(a.body).errors[0].extensions.code).toBe('UNAUTHENTICATED');
      // The server stopped reading: only what fits in the socket buffers went out.
      expect(a.sentBytes).toBeLessThan(32 * 1024 * 1024);
    }
    expect(rssMb() - before).toBeLessThan(100);
  });

  it('refuses a body over the role’s limit (ANNOTATOR: 1 MiB) with 413 before reading it', async () => {
    const annotator = await t().createKey(ApiKeyRole.ANNOTATOR);
    const res = await streamBody(t().url, 8 * 1024 * 1024, {
      authorization: `Bearer ${annotator}`,
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).errors[0].extensions).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(res.sentBytes).toBeLessThan(8 * 1024 * 1024);
    // A SERVICE key may send the same size (it is then parsed, and refused as bad JSON).
    const service = await t().createKey(ApiKeyRole.SERVICE);
    const big = await streamBody(t().url, 8 * 1024 * 1024, { authorization: `Bearer ${service}` });
    expect(big.status).toBe(400);
    expect(big.sentBytes).toBe(8 * 1024 * 1024);
  });
});
