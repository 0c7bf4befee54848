/**
 * The built-in trainers standardise with the mean and scale of every item of the dataset,
 * labelled or not: a model's output depends on the unlabelled items' features through those two
 * statistics only.
 */
import { describeEachDb, type TestServer } from '../helpers/server';
import { f32base64 } from '../helpers/digits';
import { waitFor } from '../helpers/wait-for';

const TRAIN = `mutation($i: TrainModelInput!) { trainModel(input: $i) { id } }`;
const RUN = `query($id: ID!) { trainingRun(id: $id) {
  status error model { sha256 training metrics { accuracy logLoss } }
} }`;

/** Two overlapping classes in 2 features: the same labelled rows in every dataset. */
function labelledItems(): object[] {
  const items: object[] = [];
  for (let i = 0; i < 40; i++) {
    const c = i % 2;
    const x = c * 1.5 + Math.sin(i * 1.7) * 1.2;
    const y = c * 0.8 + Math.cos(i * 2.3) * 1.1;
    items.push({
      externalId: `l${i}`,
      featuresBase64: f32base64([x, y]),
      split: i < 30 ? 'POOL' : 'VALIDATION',
      label: c === 0 ? 'a' : 'b',
    });
  }
  return items;
}

/**
 * Unlabelled items whose features, per column, are the multiset `values` (plus `shift`).
 * {0, 3, 3} and {1, 1, 4} have the same sum and the same sum of squares: the same mean and
 * standard deviation, different items.
 */
function unlabelledItems(values: number[], shift = 0): object[] {
  return values.map((v, i) => ({
    externalId: `u${i}`,
    featuresBase64: f32base64([v * 4 + shift, 10 - v * 2 + shift]),
    split: 'POOL',
  }));
}

async function dataset(t: TestServer, name: string, unlabelled: object[]): Promise<string> {
  const { createDataset } = await t.ok(
    'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
    { i: { name, classes: ['a', 'b'], featureDim: 2 } },
  );
  await t.ok(
    'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
    { d: createDataset.id, items: [...labelledItems(), ...unlabelled] },
  );
  return createDataset.id;
}

async function train(t: TestServer, datasetId: string, options: object): Promise<any> {
  const { trainModel } = await t.ok(TRAIN, { i: { datasetId, trainer: 'softmax', options } });
  const run = await waitFor(async () => (await t.ok(RUN, { id: trainModel.id })).trainingRun, {
    until: (r) => !['QUEUED', 'RUNNING'].includes(r.status),
    timeoutMs: 60_000,
    what: 'the training run to finish',
  });
  expect(run).toMatchObject({ status: 'SUCCEEDED', error: null });
  return run.model;
}

describeEachDb('standardisation from the whole dataset', (t) => {
  let same: string[];
  let shifted: string;

  beforeAll(async () => {
    same = [
      await dataset(t(), 'scaler-a', unlabelledItems([0, 3, 3])),
      await dataset(t(), 'scaler-b', unlabelledItems([1, 1, 4])),
    ];
    shifted = await dataset(t(), 'scaler-c', unlabelledItems([0, 3, 3], 25));
  });

  it('gives the same model for other unlabelled items with the same mean and scale, another for a shifted pool', async () => {
    const [a, b] = [await train(t(), same[0], { C: 1 }), await train(t(), same[1], { C: 1 })];
    const c = await train(t(), shifted, { C: 1 });
    expect(a.training.options).toMatchObject({ C: 1, standardize: 'dataset' });
    expect(b.metrics.logLoss).toBeCloseTo(a.metrics.logLoss, 9);
    expect(b.metrics.accuracy).toBe(a.metrics.accuracy);
    // Regularisation acts on the weights of standardised features: another scale, another fit.
    expect(Math.abs(c.metrics.logLoss - a.metrics.logLoss)).toBeGreaterThan(1e-4);
  });

  it('ignores the unlabelled items when told to standardise on the labelled rows only', async () => {
    const a = await train(t(), same[0], { C: 1, standardize: 'labelled' });
    const c = await train(t(), shifted, { C: 1, standardize: 'labelled' });
    expect(c.sha256).toBe(a.sha256);
  });

  it('chooses C by cross-validation when none is given, and records it', async () => {
    const model = await train(t(), same[0], {});
    expect(model.training.fitted).toMatchObject({ C: expect.any(Number), cvFolds: 5 });
    expect(model.training.options.C).toBeUndefined();
  });
});
