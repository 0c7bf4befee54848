import path from 'node:path';
import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';
import { testModel } from '../helpers/models';
import { CLAIM, SUBMIT } from '../helpers/queues';
import { trainSoftmax } from '../helpers/training';

const STREAM = `mutation($d: ID!, $m: ID!, $items: [ImportItemInput!]!, $p: StreamPolicyInput!, $s: String) {
  streamItems(datasetId: $d, modelId: $m, items: $items, policy: $p, stream: $s) {
    queriedCount autoLabeledCount deferredCount budgetRemaining roundId
    stream { id name policy params state roundId }
    decisions { id item { id externalId } decision score threshold predictedClass value modelId
                queryId labelId query { id itemId status round { mechanism strategy } } }
  }
}`;
const DECISIONS = `query($d: ID!, $s: String, $k: StreamDecisionKind, $first: Int, $after: String) {
  streamDecisions(datasetId: $d, stream: $s, decision: $k, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id itemId decision score threshold predictedClass queryId labelId
                   item { externalId label { source modelId confidence value } } } }
  }
}`;
const BUDGET = `query($d: ID!) { dataset(id: $d) { budget { total spent remaining
  byMechanism { mechanism spent held owed } } } }`;

const SEED_LABELS = 60;
/** Items 0..(SEED_LABELS + 200) of the digits: the seed set, then the 200 streamed. */
const STREAMED = 200;

async function digitsWithModel(
  t: TestServer,
  name: string,
  labelBudget: number,
): Promise<{ d: string; model: string }> {
  const { createDataset } = await t.ok(
    'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
    { i: { name, classes: DIGIT_CLASSES, featureDim: 64, labelBudget } },
  );
  const d = createDataset.id;
  const digits = loadDigits();
  // The seed set and a validation set (for the model's metrics), from the end of the file.
  const seed = Array.from({ length: SEED_LABELS }, (_, j) => 1797 - 1 - j);
  const items = seed.map((i) => ({
    externalId: `seed${i}`,
    featuresBase64: f32base64(digits.features[i]),
    label: digits.labels[i],
  }));
  await t.ok(
    'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
    { d, items },
  );
  return { d, model: await trainSoftmax(t, d) };
}

/** The streamed digits `from..to` (rows 0.. of the file), as import items. */
function streamItems(prefix: string, from: number, to: number) {
  const digits = loadDigits();
  return Array.from({ length: to - from }, (_, j) => ({
    externalId: `${prefix}${from + j}`,
    featuresBase64: f32base64(digits.features[from + j]),
    groundTruth: digits.labels[from + j],
    payload: { row: from + j },
  }));
}

async function counts(t: TestServer, d: string) {
  const [row] = await t.sql(
    `SELECT (SELECT count(*)::int FROM item WHERE dataset_id = $1) AS items,
            (SELECT count(*)::int FROM stream WHERE dataset_id = $1) AS streams,
            (SELECT count(*)::int FROM stream_decision WHERE dataset_id = $1) AS decisions,
            (SELECT count(*)::int FROM label_query WHERE dataset_id = $1) AS queries,
            (SELECT count(*)::int FROM label WHERE dataset_id = $1) AS labels,
            (SELECT count(*)::int FROM round WHERE dataset_id = $1) AS rounds`,
    [d],
  );
  return row;
}

/** A third-party policy that queries every item, loaded through QUARRY_STREAM_POLICY_MODULES. */
const ALWAYS_QUERY = path.resolve(__dirname, '../fixtures/stream-plugins/always-query.js');

describeEachDb(
  'stream-based selective sampling',
  (t) => {
    let d: string;
    let model: string;
    const fixed = { code: 'fixed-threshold', params: { threshold: 0.9 } };
    const variable = {
      code: 'variable-threshold',
      params: { budgetUnits: 30, expectedLength: STREAMED },
    };

    beforeAll(async () => {
      ({ d, model } = await digitsWithModel(t(), 'digits-stream', 30));
    }, 120_000);

    it('lists the stream policies with their parameter schemas and defaults', async () => {
      const { streamPolicies } = await t().ok(
        '{ streamPolicies { code description paramsSchema defaults } }',
      );
      const byCode = Object.fromEntries(streamPolicies.map((p: any) => [p.code, p]));
      expect(Object.keys(byCode)).toEqual(
        expect.arrayContaining(['fixed-threshold', 'variable-threshold']),
      );
      expect(byCode['fixed-threshold'].defaults).toEqual({ threshold: 0.9 });
      expect(byCode['variable-threshold'].paramsSchema.properties.budgetUnits).toBeDefined();
    });

    it('decides 200 digits with a fixed threshold: queries below it until the budget is spent, then defers', async () => {
      const all: any[] = [];
      let budgetRemaining: number | undefined;
      for (let from = 0; from < STREAMED; from += 50) {
        const { streamItems: r } = await t().ok(STREAM, {
          d,
          m: model,
          items: streamItems('f', from, from + 50),
          p: fixed,
          s: 'fixed',
        });
        expect(r.decisions).toHaveLength(50);
        expect(r.decisions.map((x: any) => x.item.externalId)).toEqual(
          streamItems('f', from, from + 50).map((i) => i.externalId),
        );
        expect(r.queriedCount + r.autoLabeledCount + r.deferredCount).toBe(50);
        expect(r.stream.state.seen).toBe(from + 50);
        all.push(...r.decisions);
        budgetRemaining = r.budgetRemaining;
        if (r.queriedCount > 0) {
          expect(r.roundId).toBeTruthy();
          expect(r.stream.roundId).toBe(r.roundId);
        }
      }
      for (const x of all) {
        expect(x.threshold).toBeCloseTo(0.9, 6);
        expect(x.modelId).toBe(model);
        expect(x.value).toBe(DIGIT_CLASSES[x.predictedClass]);
        expect(x.decision).toBe(
          x.score >= 0.9 ? 'AUTO_LABELED' : x.decision === 'DEFERRED' ? 'DEFERRED' : 'QUERIED',
        );
      }
      const kinds = all.map((x) => x.decision);
      const queried = all.filter((x) => x.decision === 'QUERIED');
      const wanted = all.filter((x) => x.score < 0.9).length;
      // The model (60 labels) is unsure of more items than the budget pays for.
      expect(wanted).toBeGreaterThan(30);
      expect(queried).toHaveLength(30);
      expect(kinds.filter((k) => k === 'DEFERRED')).toHaveLength(wanted - 30);
      expect(kinds.filter((k) => k === 'AUTO_LABELED').length).toBeGreaterThan(0);
      // Deferred only once the budget was spent: none before the 30th query.
      expect(kinds.indexOf('DEFERRED')).toBeGreaterThan(kinds.lastIndexOf('QUERIED'));
      for (const q of queried) {
        expect(q.query).toMatchObject({
          id: q.queryId,
          itemId: q.item.id,
          status: 'OPEN',
          round: { mechanism: 'STREAM', strategy: 'stream:fixed-threshold' },
        });
      }

      expect(budgetRemaining).toBe(0);
      const { dataset } = await t().ok(BUDGET, { d });
      expect(dataset.budget.byMechanism).toEqual(
        expect.arrayContaining([{ mechanism: 'STREAM', spent: 0, held: 0, owed: 30 }]),
      );
      const { labelQueue } = await t().ok(
        'query($d: ID!) { labelQueue(datasetId: $d, first: 100) { totalCount edges { node { id itemId round { mechanism } preLabel { value } } } } }',
        { d },
      );
      expect(labelQueue.totalCount).toBe(30);
      expect(labelQueue.edges.map((e: any) => e.node.id).sort()).toEqual(
        queried.map((q) => q.queryId).sort(),
      );
      expect(labelQueue.edges.every((e: any) => e.node.round.mechanism === 'STREAM')).toBe(true);
      const byItem = new Map(queried.map((q) => [q.item.id, q.value]));
      for (const e of labelQueue.edges)
        expect(e.node.preLabel.value).toBe(byItem.get(e.node.itemId));
    });

    it('stores every decision, listed in order by kind and page, and gives AUTO_LABELED items a MODEL label', async () => {
      const first = await t().ok(DECISIONS, { d, s: 'fixed', first: 120 });
      expect(first.streamDecisions.totalCount).toBe(STREAMED);
      expect(first.streamDecisions.pageInfo.hasNextPage).toBe(true);
      const second = await t().ok(DECISIONS, {
        d,
        s: 'fixed',
        first: 120,
        after: first.streamDecisions.pageInfo.endCursor,
      });
      const nodes = [...first.streamDecisions.edges, ...second.streamDecisions.edges].map(
        (e: any) => e.node,
      );
      expect(nodes.map((n: any) => n.item.externalId)).toEqual(
        streamItems('f', 0, STREAMED).map((i) => i.externalId),
      );
      const auto = await t().ok(DECISIONS, { d, s: 'fixed', k: 'AUTO_LABELED', first: 200 });
      const autoNodes = auto.streamDecisions.edges.map((e: any) => e.node);
      expect(autoNodes.length).toBe(nodes.filter((n: any) => n.decision === 'AUTO_LABELED').length);
      for (const n of autoNodes) {
        expect(n.labelId).toBeTruthy();
        expect(n.item.label).toMatchObject({
          source: 'MODEL',
          modelId: model,
          value: DIGIT_CLASSES[n.predictedClass],
        });
        expect(n.item.label.confidence).toBeCloseTo(n.score, 5);
      }
      const [stream] = await t().sql(
        `SELECT id FROM stream WHERE dataset_id = $1 AND name = 'fixed'`,
        [d],
      );
      const [{ n }] = await t().sql(
        `SELECT count(*)::int AS n FROM label WHERE dataset_id = $1 AND source = 'MODEL' AND run_id = $2`,
        [d, stream.id],
      );
      expect(n).toBe(autoNodes.length);
      // Queried and deferred items stay unlabelled in the pool.
      for (const node of nodes.filter((x: any) => x.decision !== 'AUTO_LABELED')) {
        expect(node.item.label).toBeNull();
        expect(node.labelId).toBeNull();
      }
    });

    it('with a variable threshold spreads a budget of 30 over the 200 items, and keeps its state between calls', async () => {
      await t().ok(
        'mutation($d: ID!) { updateDataset(id: $d, input: { labelBudget: 60 }) { id } }',
        {
          d,
        },
      );
      const all: any[] = [];
      let lastState: any;
      for (let from = 0; from < STREAMED; from += 40) {
        const { streamItems: r } = await t().ok(STREAM, {
          d,
          m: model,
          items: streamItems('v', from, from + 40),
          p: variable,
          s: 'variable',
        });
        if (lastState) {
          // The first item of this call is compared with the threshold the last call left.
          expect(r.decisions[0].threshold).toBeCloseTo(lastState.policyState.threshold, 5);
          expect(r.stream.state.seen).toBe(lastState.seen + 40);
        }
        lastState = r.stream.state;
        all.push(...r.decisions);
      }
      const queried = all.flatMap((x, i) => (x.decision === 'QUERIED' ? [i] : []));
      expect(queried.length).toBeGreaterThan(5);
      expect(queried.length).toBeLessThanOrEqual(30);
      expect(all.filter((x) => x.decision === 'DEFERRED')).toHaveLength(0);
      // Spread along the stream, not spent at the start.
      expect(queried.some((i) => i < STREAMED / 2)).toBe(true);
      expect(queried.some((i) => i >= STREAMED / 2)).toBe(true);
      // Never ahead of its pace: at most 15% of the items seen so far were queried.
      queried.forEach((i, j) => expect(j + 1).toBeLessThanOrEqual(Math.ceil(0.15 * (i + 1))));
      for (const x of all) {
        if (x.decision === 'QUERIED') expect(x.score).toBeLessThan(x.threshold);
      }
      expect(lastState).toMatchObject({
        policy: 'variable-threshold',
        seen: STREAMED,
        queried: queried.length,
      });
      const { streams } = await t().ok(
        'query($d: ID!) { streams(datasetId: $d) { nodes { name policy params state } } }',
        { d },
      );
      expect(streams.nodes.map((s: any) => [s.name, s.policy])).toEqual([
        ['fixed', 'fixed-threshold'],
        ['variable', 'variable-threshold'],
      ]);
      expect(streams.nodes[1].params).toMatchObject({
        budgetUnits: 30,
        expectedLength: STREAMED,
        step: 0.01,
      });
      const { dataset } = await t().ok(BUDGET, { d });
      expect(dataset.budget.byMechanism).toEqual(
        expect.arrayContaining([
          { mechanism: 'STREAM', spent: 0, held: 0, owed: 30 + queried.length },
        ]),
      );
    });

    it("an answer to a stream query is the item's HUMAN label and spends the budget as STREAM", async () => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 1, a: 'ann' });
      expect(claimQueries).toHaveLength(1);
      const q = claimQueries[0].query;
      await t().ok(SUBMIT, { q: q.id, v: '7', t: claimQueries[0].token });
      const { dataset } = await t().ok(BUDGET, { d });
      expect(dataset.budget.byMechanism).toEqual(
        expect.arrayContaining([expect.objectContaining({ mechanism: 'STREAM', spent: 1 })]),
      );
      const { item } = await t().ok(
        'query($id: ID!) { item(id: $id) { label { source value } } }',
        {
          id: q.itemId,
        },
      );
      expect(item.label).toEqual({ source: 'HUMAN', value: '7' });
    });

    it('decides nothing for an empty list', async () => {
      const before = await counts(t(), d);
      const { streamItems: r } = await t().ok(STREAM, {
        d,
        m: model,
        items: [],
        p: fixed,
        s: 'fixed',
      });
      expect(r).toMatchObject({ decisions: [], queriedCount: 0, roundId: null });
      expect(await counts(t(), d)).toEqual(before);
    });

    it('decides with a plugin policy, and without a budget never defers', async () => {
      const { createDataset } = await t().ok(
        'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
        { i: { name: 'digits-plugin', classes: DIGIT_CLASSES, featureDim: 64 } },
      );
      const { registerModel } = await t().ok(
        'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "fixed", onnxBase64: $b) { id } }',
        { d: createDataset.id, b: testModel().toString('base64') },
      );
      const { streamItems: r } = await t().ok(STREAM, {
        d: createDataset.id,
        m: registerModel.id,
        items: streamItems('p', 0, 5),
        p: { code: 'always-query' },
      });
      expect(r).toMatchObject({ queriedCount: 5, deferredCount: 0, budgetRemaining: null });
      expect(r.stream).toMatchObject({
        name: 'default',
        policy: 'always-query',
        params: { note: 'hi' },
        state: { seen: 5, queried: 5, policyState: { count: 5 } },
      });
      expect(r.decisions.every((x: any) => x.query.round.strategy === 'stream:always-query')).toBe(
        true,
      );
    });

    it('refuses bad inputs with their error codes and stores nothing', async () => {
      const { createDataset } = await t().ok(
        'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
        { i: { name: 'digits-other', classes: DIGIT_CLASSES, featureDim: 64 } },
      );
      const { registerModel } = await t().ok(
        'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "other", onnxBase64: $b) { id } }',
        { d: createDataset.id, b: testModel().toString('base64') },
      );
      const good = streamItems('bad', 0, 3);
      const before = await counts(t(), d);
      const cases: [string, Record<string, unknown>, string][] = [
        ['unknown dataset', { d: '00000000-0000-4000-8000-000000000000' }, 'NOT_FOUND'],
        ['unknown model', { m: '00000000-0000-4000-8000-000000000000' }, 'BAD_USER_INPUT'],
        ['malformed model id', { m: 'nope' }, 'BAD_USER_INPUT'],
        ['model of another dataset', { m: registerModel.id }, 'BAD_USER_INPUT'],
        ['unknown policy', { p: { code: 'coin-flip' } }, 'BAD_USER_INPUT'],
        [
          'bad params',
          { p: { code: 'fixed-threshold', params: { threshold: 2 } } },
          'BAD_USER_INPUT',
        ],
        [
          'unknown param',
          { p: { code: 'fixed-threshold', params: { bogus: 1 } } },
          'BAD_USER_INPUT',
        ],
        [
          'budgetUnits without expectedLength',
          { p: { code: 'variable-threshold', params: { budgetUnits: 5 } } },
          'BAD_USER_INPUT',
        ],
        ['another policy for an existing stream', { s: 'fixed', p: variable }, 'CONFLICT'],
        [
          'other params for an existing stream',
          { s: 'fixed', p: { code: 'fixed-threshold', params: { threshold: 0.8 } } },
          'CONFLICT',
        ],
        ['an empty stream name', { s: '' }, 'BAD_USER_INPUT'],
        ['short features', { items: [{ externalId: 'x', features: [1, 2, 3] }] }, 'BAD_USER_INPUT'],
        [
          'an item already in the dataset',
          { items: [...good, { ...good[0], externalId: 'f0' }] },
          'BAD_USER_INPUT',
        ],
        ['a duplicate in the call', { items: [...good, good[1]] }, 'BAD_USER_INPUT'],
        ['a labelled item', { items: [{ ...good[0], label: '3' }] }, 'BAD_USER_INPUT'],
        ['a TEST item', { items: [{ ...good[0], split: 'TEST' }] }, 'BAD_USER_INPUT'],
        [
          'an unknown ground truth',
          { items: [{ ...good[0], groundTruth: 'ten' }] },
          'BAD_USER_INPUT',
        ],
      ];
      for (const [what, vars, code] of cases) {
        const res = await t().gql(STREAM, {
          d,
          m: model,
          items: good,
          p: fixed,
          s: 'new',
          ...vars,
        });
        expect([what, codeOf(res)]).toEqual([what, code]);
      }
      const itemsProblem = await t().gql(STREAM, {
        d,
        m: model,
        items: [good[0], { ...good[1], featuresBase64: 'AAAA' }],
        p: fixed,
      });
      expect(itemsProblem.errors?.[0].extensions?.problems).toEqual([
        expect.objectContaining({ index: 1, field: 'featuresBase64' }),
      ]);
      expect(await counts(t(), d)).toEqual(before);
      expect(codeOf(await t().gql(DECISIONS, { d, s: 'nope' }))).toBe('NOT_FOUND');
      expect(codeOf(await t().gql(DECISIONS, { d, after: 'bm90LWEtY3Vyc29y' }))).toBe(
        'BAD_USER_INPUT',
      );
      const annotator = await t().createKey('ANNOTATOR' as any, [d]);
      const res = await t().gql(STREAM, { d, m: model, items: good, p: fixed }, annotator);
      expect(codeOf(res)).toBe('FORBIDDEN');
      expect(await counts(t(), d)).toEqual(before);
    });
  },
  { streamPolicyModules: [ALWAYS_QUERY] },
);
