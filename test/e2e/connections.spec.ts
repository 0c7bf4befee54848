import { ApiKeyRole } from '../../src/entities';
import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { testModel } from '../helpers/models';
import { openRound, queueDataset } from '../helpers/queues';

/** The page size the spec walks every connection with: every listing below holds more. */
const PAGE = 2;

interface Conn {
  nodes: Record<string, unknown>[];
  edges: { cursor: string; node: Record<string, unknown> }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

/**
 * Walks a connection `PAGE` nodes at a time: `query` takes `$first` and `$after` (plus `vars`),
 * `pick` finds the connection in the answer. Returns each node's `key`, in the order given, and
 * how many pages it took; checks that `nodes` and `edges` agree and the last page says so.
 */
async function walk(
  t: TestServer,
  query: string,
  vars: Record<string, unknown>,
  pick: (data: any) => Conn,
  key = 'id',
): Promise<{ keys: string[]; pages: number; totalCount: number }> {
  const keys: string[] = [];
  let after: string | null = null;
  let pages = 0;
  let totalCount = -1;
  for (;;) {
    const conn = pick(await t.ok(query, { ...vars, first: PAGE, after }));
    pages++;
    totalCount = conn.totalCount;
    expect(conn.nodes.length).toBeLessThanOrEqual(PAGE);
    expect(conn.edges.map((e) => e.node)).toEqual(conn.nodes);
    keys.push(...conn.nodes.map((n) => String(n[key])));
    if (!conn.pageInfo.hasNextPage) break;
    expect(conn.pageInfo.endCursor).toBe(conn.edges[conn.edges.length - 1].cursor);
    after = conn.pageInfo.endCursor;
    if (pages > 50) throw new Error('the connection never ends');
  }
  return { keys, pages, totalCount };
}

/** The selection of a connection whose nodes show `fields`. */
const page = (fields: string) =>
  `nodes { ${fields} } edges { cursor node { ${fields} } } pageInfo { hasNextPage endCursor } totalCount`;

/** Expect `got` to be `expected` exactly: each once, in order, over more than one page. */
function expectWalked(got: { keys: string[]; pages: number }, expected: string[]): void {
  expect(expected.length).toBeGreaterThan(PAGE);
  expect(got.keys).toEqual(expected);
  expect(new Set(got.keys).size).toBe(got.keys.length);
  expect(got.pages).toBe(Math.ceil(expected.length / PAGE));
}

describeEachDb('connections', (t) => {
  let d: string;
  let itemId: string;
  const modelIds: string[] = [];

  beforeAll(async () => {
    d = await queueDataset(t(), 'conn-main', { items: 12 });
    for (let seed = 1; seed <= 3; seed++) {
      const { registerModel } = await t().ok(
        'mutation($d: ID!, $b: String!, $n: String!) { registerModel(datasetId: $d, name: $n, onnxBase64: $b) { id } }',
        {
          d,
          n: `m${seed}`,
          b: testModel({ featureDim: 4, classes: 3, seed }).toString('base64'),
        },
      );
      modelIds.push(registerModel.id);
    }
    const { items } = await t().ok(
      'query($d: ID!) { items(datasetId: $d, first: 1) { nodes { id } } }',
      { d },
    );
    itemId = items.nodes[0].id;
  }, 120_000);

  it('pages datasets by name, each once', async () => {
    for (const name of ['conn-e', 'conn-b', 'conn-d', 'conn-a', 'conn-c']) {
      await queueDataset(t(), name, { items: 0 });
    }
    const got = await walk(
      t(),
      `query($first: Int, $after: String) { datasets(first: $first, after: $after) { ${page('id name')} } }`,
      {},
      (x) => x.datasets,
      'name',
    );
    const expected = ['conn-a', 'conn-b', 'conn-c', 'conn-d', 'conn-e', 'conn-main'];
    expectWalked(got, expected);
    expect(got.totalCount).toBe(expected.length);
  });

  it('pages API keys oldest first, each once', async () => {
    for (let i = 0; i < 4; i++) await t().createKey(ApiKeyRole.SERVICE);
    const rows = await t().sql<{ id: string }>('SELECT id FROM api_key ORDER BY created_at, id');
    const got = await walk(
      t(),
      `query($first: Int, $after: String) { apiKeys(first: $first, after: $after) { ${page('id')} } }`,
      {},
      (x) => x.apiKeys,
    );
    expectWalked(
      got,
      rows.map((r) => r.id),
    );
  });

  it('pages rounds newest first, each once', async () => {
    const started: string[] = [];
    for (let i = 0; i < 3; i++) started.push(await openRound(t(), d, 2));
    const got = await walk(
      t(),
      `query($d: ID!, $first: Int, $after: String) { rounds(datasetId: $d, first: $first, after: $after) { ${page('id')} } }`,
      { d },
      (x) => x.rounds,
    );
    expectWalked(got, started.reverse());
  });

  it('pages models oldest version first, each once', async () => {
    const got = await walk(
      t(),
      `query($d: ID!, $first: Int, $after: String) { models(datasetId: $d, first: $first, after: $after) { ${page('id version')} } }`,
      { d },
      (x) => x.models,
    );
    expectWalked(got, modelIds);
  });

  it('pages training runs, simulations and auto-label runs newest first, ties broken by id', async () => {
    // Task rows stand in for real runs (what is listed is under test, not training); three share
    // one created_at so that the id has to break the tie, across a page boundary.
    const at = ['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z'];
    at.push('2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z');
    for (const [kind, field, params] of [
      ['TRAIN', 'trainingRuns', {}],
      ['SIMULATE', 'simulations', {}],
      ['AUTO_LABEL', 'autoLabelRuns', { modelId: modelIds[0], threshold: 0.9, auditRate: 0 }],
    ] as const) {
      const ids: { id: string; at: string }[] = [];
      for (const when of at) {
        const [row] = await t().sql<{ id: string }>(
          `INSERT INTO task (dataset_id, kind, params, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
          [d, kind, JSON.stringify(params), when],
        );
        ids.push({ id: row.id, at: when });
      }
      const expected = ids
        .sort((a, b) => (a.at === b.at ? (a.id < b.id ? 1 : -1) : a.at < b.at ? 1 : -1))
        .map((r) => r.id);
      const got = await walk(
        t(),
        `query($d: ID!, $first: Int, $after: String) { ${field}(datasetId: $d, first: $first, after: $after) { ${page('id')} } }`,
        { d },
        (x) => x[field],
      );
      expectWalked(got, expected);
    }
  });

  it('pages streams by name, each once', async () => {
    for (const name of ['s-c', 's-a', 's-e', 's-b', 's-d']) {
      // Stream rows stand in for streams made by streamItems (which needs a model run per call).
      await t().sql(
        `INSERT INTO stream (dataset_id, name, policy, params, state) VALUES ($1, $2, 'fixed-threshold', '{}', '{}')`,
        [d, name],
      );
    }
    const got = await walk(
      t(),
      `query($d: ID!, $first: Int, $after: String) { streams(datasetId: $d, first: $first, after: $after) { ${page('name')} } }`,
      { d },
      (x) => x.streams,
      'name',
    );
    expectWalked(got, ['s-a', 's-b', 's-c', 's-d', 's-e']);
  });

  it("pages a webhook's deliveries newest first, at the top level and as its field", async () => {
    const { createWebhook } = await t().ok(
      'mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id } } }',
      { i: { datasetId: d, url: 'http://127.0.0.1:9/hook', events: ['MODEL_REGISTERED'] } },
    );
    const w = createWebhook.webhook.id;
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { testWebhook } = await t().ok('mutation($w: ID!) { testWebhook(id: $w) { id } }', {
        w,
      });
      sent.push(testWebhook.id);
    }
    const expected = sent.reverse();
    const top = await walk(
      t(),
      `query($w: ID!, $first: Int, $after: String) { webhookDeliveries(webhookId: $w, first: $first, after: $after) { ${page('id')} } }`,
      { w },
      (x) => x.webhookDeliveries,
    );
    expectWalked(top, expected);
    const nested = await walk(
      t(),
      `query($d: ID!, $first: Int, $after: String) { webhooks(datasetId: $d) { deliveries(first: $first, after: $after) { ${page('id')} } } }`,
      { d },
      (x) => x.webhooks[0].deliveries,
    );
    expectWalked(nested, expected);
  });

  it("pages an item's label history newest first and its predictions newest model first", async () => {
    const written: string[] = [];
    for (const value of ['cat', 'dog', 'bird', 'cat', 'dog']) {
      const { labelItems } = await t().ok(
        'mutation($d: ID!, $l: [LabelItemInput!]!) { labelItems(datasetId: $d, labels: $l) { labels { id } } }',
        { d, l: [{ itemId, value }] },
      );
      written.push(labelItems.labels[0].id);
    }
    const labels = await walk(
      t(),
      `query($i: ID!, $first: Int, $after: String) { item(id: $i) { labels(first: $first, after: $after) { ${page('id')} } } }`,
      { i: itemId },
      (x) => x.item.labels,
    );
    expectWalked(labels, written.reverse());
    expect(labels.totalCount).toBe(5);

    // Prediction rows stand in for what rounds write when they score with these models.
    for (const m of modelIds) {
      await t().sql(
        'INSERT INTO prediction (item_id, model_id, predicted_class, confidence) VALUES ($1, $2, 1, 0.5)',
        [itemId, m],
      );
    }
    const predictions = await walk(
      t(),
      `query($i: ID!, $first: Int, $after: String) { item(id: $i) { predictions(first: $first, after: $after) { ${page('modelId')} } } }`,
      { i: itemId },
      (x) => x.item.predictions,
      'modelId',
    );
    expectWalked(predictions, [...modelIds].reverse());
  });

  it('batches nested pages: items of one page each get their own page of labels', async () => {
    const { items } = await t().ok(
      'query($d: ID!) { items(datasetId: $d, first: 3) { nodes { id labels(first: 1) { nodes { itemId } pageInfo { hasNextPage } } } } }',
      { d },
    );
    for (const item of items.nodes) {
      for (const l of item.labels.nodes) expect(l.itemId).toBe(item.id);
    }
    const first = items.nodes.find((i: { id: string }) => i.id === itemId);
    expect(first.labels.pageInfo.hasNextPage).toBe(true);
  });

  it('refuses first above the maximum or below 0, and a foreign cursor, naming the argument', async () => {
    const refusals: [string, Record<string, unknown>, string][] = [
      ['{ datasets(first: 1001) { nodes { id } } }', {}, 'first'],
      ['{ apiKeys(first: -1) { nodes { id } } }', {}, 'first'],
      ['query($d: ID!) { rounds(datasetId: $d, first: 1001) { nodes { id } } }', { d }, 'first'],
      [
        'query($i: ID!) { item(id: $i) { labels(first: 1001) { nodes { id } } } }',
        { i: itemId },
        'first',
      ],
      [
        'query($d: ID!) { webhooks(datasetId: $d) { deliveries(first: 201) { nodes { id } } } }',
        { d },
        'first',
      ],
      ['{ datasets(after: "bm9wZQ") { nodes { id } } }', {}, 'after'],
    ];
    const datasetsBefore = (await t().sql('SELECT count(*)::int AS n FROM dataset'))[0].n;
    for (const [query, vars, field] of refusals) {
      const res = await t().gql(query, vars);
      expect([query, codeOf(res)]).toEqual([query, 'BAD_USER_INPUT']);
      expect(res.errors![0].message).toContain(field);
      expect(res.errors![0].extensions!.problems).toEqual([expect.objectContaining({ field })]);
    }
    // A cursor of one connection is refused by another.
    const { datasets } = await t().ok('{ datasets(first: 1) { pageInfo { endCursor } } }');
    const foreign = await t().gql(
      'query($d: ID!, $a: String) { rounds(datasetId: $d, after: $a) { nodes { id } } }',
      { d, a: datasets.pageInfo.endCursor },
    );
    expect(codeOf(foreign)).toBe('BAD_USER_INPUT');
    expect((await t().sql('SELECT count(*)::int AS n FROM dataset'))[0].n).toBe(datasetsBefore);
  });

  it('charges a connection by its first, so many pages of many are refused by the cost limit', async () => {
    // items: 1 + first × (edges 1 + node 1 + labels (1 + 1000 × nodes 1)) = 1 + first × 1003.
    const nested = (first: number, inner: number) =>
      `query($d: ID!) { items(datasetId: $d, first: ${first}) { edges { node { labels(first: ${inner}) { nodes { id } } } } } }`;
    const many = await t().gql(nested(100, 1000), { d });
    expect(codeOf(many)).toBe('QUERY_TOO_COMPLEX');
    expect(many.errors![0].extensions).toMatchObject({ limit: 'cost', found: 100_301 });
    const fewer = await t().gql(nested(50, 1000), { d });
    expect(fewer.errors![0].extensions).toMatchObject({ limit: 'cost', found: 50_151 });
    // The same shape with small pages is answered.
    const small = await t().gql(nested(10, 10), { d });
    expect(small.errors).toBeUndefined();
    // Pages of rounds, each with pages of its queries: 1 + 100 × (nodes 1 + queries 1001).
    const rounds = (first: number, inner: number) =>
      `query($d: ID!) { rounds(datasetId: $d, first: ${first}) { nodes { queries(first: ${inner}) { nodes { id } } } } }`;
    const manyRounds = await t().gql(rounds(100, 1000), { d });
    expect(codeOf(manyRounds)).toBe('QUERY_TOO_COMPLEX');
    expect(manyRounds.errors![0].extensions).toMatchObject({ limit: 'cost', found: 100_201 });
    expect((await t().gql(rounds(10, 10), { d })).errors).toBeUndefined();
  });
});
