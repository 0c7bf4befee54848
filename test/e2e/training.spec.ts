import { ApiKeyRole } from '../../src/entities';
import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';
import { testModel } from '../helpers/models';
import { waitFor } from '../helpers/wait-for';

const TRAIN = `mutation($i: TrainModelInput!) { trainModel(input: $i) { id status params } }`;
const RUN = `query($id: ID!) { trainingRun(id: $id) {
  id status error modelId
  model { id version name humanLabels training embeddingDim
          metrics { rows accuracy macroF1 logLoss expectedCalibrationError perClass { value precision recall f1 support } confusion } }
} }`;
const CURVE = `query($d: ID!) { learningCurve(datasetId: $d) {
  humanLabels madeBy model { version name } metrics { accuracy macroF1 rows }
} }`;

/** Splits of the digits: every 5th row TEST, every 5th (offset 1) VALIDATION, the rest POOL. */
function splitOf(i: number): 'TEST' | 'VALIDATION' | 'POOL' {
  return i % 5 === 0 ? 'TEST' : i % 5 === 1 ? 'VALIDATION' : 'POOL';
}

async function digitsDataset(t: TestServer, name: string, seedLabels: number): Promise<string> {
  const { createDataset } = await t.ok(
    'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
    { i: { name, classes: DIGIT_CLASSES, featureDim: 64 } },
  );
  const digits = loadDigits();
  let pool = 0;
  const items = digits.features.map((f, i) => {
    const split = splitOf(i);
    const seeded = split === 'POOL' && pool++ < seedLabels;
    return {
      externalId: `d${i}`,
      featuresBase64: f32base64(f),
      split,
      groundTruth: digits.labels[i],
      // Validation items carry their label (metrics need it); the pool only its seed set.
      label: split === 'VALIDATION' || seeded ? digits.labels[i] : null,
    };
  });
  await t.ok(
    'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
    { d: createDataset.id, items },
  );
  return createDataset.id;
}

async function settleRun(t: TestServer, id: string): Promise<any> {
  return waitFor(async () => (await t.ok(RUN, { id })).trainingRun, {
    until: (trainingRun) => !['QUEUED', 'RUNNING'].includes(trainingRun.status),
    timeoutMs: 90_000,
    what: `training run ${id} to finish`,
  });
}

async function taskCount(t: TestServer): Promise<number> {
  const [{ n }] = await t.sql('SELECT count(*)::int AS n FROM task');
  return n;
}

describeEachDb('training, metrics and learning curves', (t) => {
  let d: string;

  beforeAll(async () => {
    d = await digitsDataset(t(), 'digits-train', 60);
  });

  it('trains a softmax model in the background and registers it with its metrics', async () => {
    const { trainModel } = await t().ok(TRAIN, {
      i: { datasetId: d, trainer: 'softmax', options: { seed: 3 } },
    });
    expect(trainModel.status).toBe('QUEUED');
    expect(trainModel.params.options).toMatchObject({ seed: 3, Cs: expect.any(Array) });
    const run = await settleRun(t(), trainModel.id);
    expect(run).toMatchObject({ status: 'SUCCEEDED', error: null });
    const model = run.model;
    expect(model).toMatchObject({ version: 1, name: 'softmax', humanLabels: 60, embeddingDim: 64 });
    expect(model.training).toMatchObject({
      trainer: 'softmax',
      rows: 60,
      labelsBySource: { IMPORT: 60 },
    });
    expect(model.metrics.rows).toBe(360);
    expect(model.metrics.accuracy).toBeGreaterThan(0.75);
    expect(model.metrics.perClass).toHaveLength(10);
    expect(model.metrics.perClass.map((c: any) => c.value)).toEqual(DIGIT_CLASSES);
    expect(model.metrics.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(360);
    expect(model.metrics.logLoss).toBeGreaterThan(0);
    expect(model.metrics.expectedCalibrationError).toBeGreaterThanOrEqual(0);
  });

  it('an uploaded model is measured on the validation items too', async () => {
    const { registerModel } = await t().ok(
      'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "upload", onnxBase64: $b) { id humanLabels metrics { rows accuracy } } }',
      { d, b: testModel().toString('base64') },
    );
    expect(registerModel.metrics.rows).toBe(360);
    expect(registerModel.humanLabels).toBe(60);
  });

  it('the learning curve rises as more labels come in and the model is retrained', async () => {
    // Label 300 more pool items (as annotators would), from the ground truth kept by the test.
    const digits = loadDigits();
    const more = digits.labels
      .map((value, i) => ({ externalId: `d${i}`, value, i }))
      .filter((x) => splitOf(x.i) === 'POOL')
      .slice(60, 360)
      .map(({ externalId, value }) => ({ externalId, value }));
    await t().ok(
      'mutation($d: ID!, $l: [LabelItemInput!]!) { labelItems(datasetId: $d, labels: $l) { replayed } }',
      { d, l: more },
    );
    const { trainModel } = await t().ok(TRAIN, {
      i: { datasetId: d, trainer: 'mlp', name: 'mlp-360', options: { seed: 1 } },
    });
    const run = await settleRun(t(), trainModel.id);
    expect(run.status).toBe('SUCCEEDED');
    const { learningCurve } = await t().ok(CURVE, { d });
    expect(learningCurve.map((p: any) => [p.model.version, p.model.name, p.humanLabels])).toEqual([
      [1, 'softmax', 60],
      [2, 'upload', 60],
      [3, 'mlp-360', 360],
    ]);
    expect(learningCurve[2].metrics.accuracy).toBeGreaterThan(learningCurve[0].metrics.accuracy);
    expect(learningCurve[2].metrics.accuracy).toBeGreaterThan(0.9);
    // Each version says how it was made: the trainer and the options it ran with.
    const madeBy = learningCurve.map((p: any) => p.madeBy as string);
    expect(madeBy[0]).toMatch(/^softmax \{.*"seed":3/);
    expect(madeBy[1]).toBe('uploaded');
    expect(madeBy[2]).toMatch(/^mlp \{.*"seed":1/);
  });

  it('refuses bad requests with BAD_USER_INPUT and creates nothing', async () => {
    const before = await taskCount(t());
    for (const i of [
      { datasetId: d, trainer: 'forest' },
      { datasetId: d, trainer: 'softmax', options: { maxIterations: 0 } },
      { datasetId: d, trainer: 'softmax', options: { C: 'large' } },
      { datasetId: d, trainer: 'mlp', options: { hiddenUnits: 3.5 } },
      { datasetId: d, trainer: 'softmax', options: { nonsense: 1 } },
    ]) {
      const res = await t().gql(TRAIN, { i });
      expect([JSON.stringify(i), codeOf(res)]).toEqual([JSON.stringify(i), 'BAD_USER_INPUT']);
    }
    expect(await taskCount(t())).toBe(before);
  });

  it('a run of a dataset outside a key’s scope looks missing (NOT_FOUND, its dataset id unsaid)', async () => {
    const { trainingRuns } = await t().ok(
      'query($d: ID!) { trainingRuns(datasetId: $d) { nodes { id } } }',
      {
        d,
      },
    );
    const { createDataset } = await t().ok(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { name: 'elsewhere', classes: ['a', 'b'], featureDim: 2 } },
    );
    const scoped = await t().createKey(ApiKeyRole.SERVICE, [createDataset.id]);
    const res = await t().gql(RUN, { id: trainingRuns.nodes[0].id }, scoped);
    expect(codeOf(res)).toBe('NOT_FOUND');
    expect(JSON.stringify(res.errors)).not.toContain(d);
  });

  it('refuses to train on labels of fewer than two classes', async () => {
    const { createDataset } = await t().ok(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { name: 'one-class', classes: ['a', 'b'], featureDim: 2 } },
    );
    await t().ok(
      'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
      {
        d: createDataset.id,
        items: [1, 2, 3].map((k) => ({ externalId: `x${k}`, features: [k, k], label: 'a' })),
      },
    );
    const res = await t().gql(TRAIN, { i: { datasetId: createDataset.id } });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].message).toMatch(/at least two classes/);
    const none = await t().gql(TRAIN, {
      i: { datasetId: createDataset.id, includeModelLabels: true },
    });
    expect(codeOf(none)).toBe('BAD_USER_INPUT');
  });

  it('never shows the hidden ground truth', async () => {
    // No output type of the schema has a ground-truth field.
    const { __schema } = await t().ok('{ __schema { types { name kind fields { name } } } }');
    const outputs = __schema.types.filter((x: any) => x.kind === 'OBJECT' && x.fields);
    const leaks = outputs.flatMap((x: any) =>
      x.fields.filter((f: any) => /truth/i.test(f.name)).map((f: any) => `${x.name}.${f.name}`),
    );
    expect(leaks).toEqual([]);
    // Items imported with ground truth only are unlabelled everywhere a client can look.
    const { items } = await t().ok(
      `query($d: ID!) { items(datasetId: $d, filter: { split: TEST }, first: 1000) {
        totalCount edges { node { label { value } labels(first: 1) { nodes { value } } payload } } } }`,
      { d },
    );
    expect(items.totalCount).toBeGreaterThan(300);
    for (const e of items.edges) {
      expect(e.node.label).toBeNull();
      expect(e.node.labels.nodes).toEqual([]);
      expect(JSON.stringify(e.node.payload)).toBe('{}');
    }
    const { labels } = await t().ok(
      'query($d: ID!) { labels(datasetId: $d, first: 1000) { totalCount } }',
      { d },
    );
    // Seed (60) + validation (360) + the 300 labelled later: nothing from the ground truth.
    expect(labels.totalCount).toBe(720);
    const res = await fetch(`${t().url.replace(/\/graphql$/, '')}/export/labels?datasetId=${d}`, {
      headers: { authorization: `Bearer ${t().adminKey}` },
    });
    const lines = (await res.text()).trim().split('\n');
    expect(lines).toHaveLength(720);
  });
});
