import { buildFeedForwardOnnx } from '../../src/ml/onnx-build';
import { CLASSES, openRound } from '../helpers/queues';
import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait-for';

const IMPORT = `mutation($d: ID!, $items: [ImportItemInput!]!) {
  importItems(datasetId: $d, items: $items) { importedCount } }`;
const REGISTER = `mutation($d: ID!, $b: String!) {
  registerModel(datasetId: $d, name: "overflowing", onnxBase64: $b) { id } }`;
const ROUND = `query($id: ID!) { round(id: $id) { status error progress { scored total skipped }
  queries(first: 100) { edges { node { item { externalId } } } } } }`;
const AUTO = `mutation($i: AutoLabelInput!) { autoLabel(input: $i) { id } }`;
const RUN = `query($id: ID!) { autoLabelRun(id: $id) { status error scoredCount labelledCount
  nonFiniteCount } }`;
const STREAM = `mutation($d: ID!, $m: ID!, $items: [ImportItemInput!]!, $p: StreamPolicyInput!) {
  streamItems(datasetId: $d, modelId: $m, items: $items, policy: $p) { budgetRemaining } }`;

/**
 * Softmax over 4 features into 3 classes whose first logit is 1e38 x the first feature: finite
 * for a first feature up to 3.4 (random test vectors are in [0, 1)), infinite above, and the
 * softmax of an infinite logit is NaN.
 */
function overflowingModel(): string {
  const weights = new Float32Array(12).fill(0.01);
  weights[0] = 1e38;
  return Buffer.from(
    buildFeedForwardOnnx({
      inputDim: 4,
      layers: [{ inDim: 4, outDim: 3, weights, bias: new Float32Array(3) }],
      outputs: { probabilities: 'probabilities' },
    }),
  ).toString('base64');
}

/** Items whose first feature is in [-1, 1] (`fine-<n>`) or 10 (`nan-<n>`: the model gives NaN). */
function items(prefix: 'fine' | 'nan', n: number) {
  return Array.from({ length: n }, (_, i) => ({
    externalId: `${prefix}-${i}`,
    features: [prefix === 'fine' ? Math.sin(i) : 10, Math.cos(i), i % 5, 1],
    payload: { i },
  }));
}

async function dataset(t: TestServer, name: string): Promise<string> {
  const { createDataset } = await t.ok(
    'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
    { i: { name, classes: CLASSES, featureDim: 4 } },
  );
  return createDataset.id;
}

describeEachDb('models that give NaN for some items', (t) => {
  it('refuses a model whose outputs on some of the dataset’s own items are not finite', async () => {
    const d = await dataset(t(), 'nan-refused');
    await t().ok(IMPORT, { d, items: items('fine', 40) });
    await t().ok(IMPORT, { d, items: items('nan', 3) });
    const res = await t().gql(REGISTER, { d, b: overflowingModel() });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].message).toMatch(/non-finite values \(NaN or Infinity\)/);
    expect(await t().sql('SELECT id FROM model WHERE dataset_id = $1', [d])).toEqual([]);
  });

  describe('registered while the dataset had no such items', () => {
    let d: string;
    let m: string;

    beforeAll(async () => {
      d = await dataset(t(), 'nan-later');
      await t().ok(IMPORT, { d, items: items('fine', 30) });
      m = (await t().ok(REGISTER, { d, b: overflowingModel() })).registerModel.id;
      await t().ok(IMPORT, { d, items: items('nan', 5) });
    });

    it('scores a round, leaving the items out and counting them on the round', async () => {
      const id = await openRound(t(), d, 10, { strategy: 'margin', modelIds: [m] });
      const { round } = await t().ok(ROUND, { id });
      expect(round).toMatchObject({
        status: 'OPEN',
        error: null,
        progress: { scored: 35, total: 35, skipped: 5 },
      });
      const queries = round.queries.edges.map((e: { node: unknown }) => e.node);
      expect(queries).toHaveLength(10);
      for (const q of queries) expect(q.item.externalId).toMatch(/^fine-/);
      const predicted = await t().sql(
        `SELECT i.external_id FROM prediction p JOIN item i ON i.id = p.item_id
         WHERE p.model_id = $1 AND i.external_id LIKE 'nan-%'`,
        [m],
      );
      expect(predicted).toEqual([]);
    });

    it('auto-labels the other items and counts the ones it left unlabelled', async () => {
      const { autoLabel } = await t().ok(AUTO, {
        i: { datasetId: d, modelId: m, threshold: 0.3, auditRate: 0, seed: 1 },
      });
      const run = await waitFor(
        async () => (await t().ok(RUN, { id: autoLabel.id })).autoLabelRun,
        {
          until: (r) => !['QUEUED', 'RUNNING'].includes(r.status),
          timeoutMs: 60_000,
          what: 'the auto-label run to end',
        },
      );
      // 25 pool items not in the round's open queries: 20 fine ones labelled, 5 left out.
      expect(run).toMatchObject({
        status: 'SUCCEEDED',
        error: null,
        scoredCount: 25,
        labelledCount: 20,
        nonFiniteCount: 5,
      });
    });

    it('refuses streamed items the model gives NaN for, naming them, and writes nothing', async () => {
      const before = await t().sql('SELECT count(*)::int AS n FROM item WHERE dataset_id = $1', [
        d,
      ]);
      const streamed = [
        ...items('fine', 2).map((x) => ({ ...x, externalId: `s-${x.externalId}` })),
        { ...items('nan', 1)[0], externalId: 's-nan' },
      ];
      const res = await t().gql(STREAM, {
        d,
        m,
        items: streamed,
        p: { code: 'fixed-threshold', params: { threshold: 0.9 } },
      });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0].extensions!.problems).toEqual([
        expect.objectContaining({ index: 2, id: 's-nan', field: 'features' }),
      ]);
      const after = await t().sql('SELECT count(*)::int AS n FROM item WHERE dataset_id = $1', [d]);
      expect(after).toEqual(before);
    });
  });
});
