import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';
import { waitFor } from '../helpers/wait-for';

const SIMULATE = `mutation($i: SimulateInput!) { simulate(input: $i) { id status params } }`;
const SIMULATION = `query($id: ID!) { simulation(id: $id) {
  status error progressDone progressTotal
  curves { strategy points { labels meanAccuracy stdAccuracy minAccuracy maxAccuracy accuracies } auc { mean std } }
} }`;

/** The digits with their labels as hidden ground truth only: a third TEST, the rest POOL. */
async function digitsWithTruth(t: TestServer, name: string): Promise<string> {
  const { createDataset } = await t.ok(
    'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
    { i: { name, classes: DIGIT_CLASSES, featureDim: 64 } },
  );
  const digits = loadDigits();
  await t.ok(
    'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
    {
      d: createDataset.id,
      items: digits.features.map((f, i) => ({
        externalId: `d${i}`,
        featuresBase64: f32base64(f),
        split: i % 3 === 0 ? 'TEST' : 'POOL',
        groundTruth: digits.labels[i],
      })),
    },
  );
  return createDataset.id;
}

async function settle(t: TestServer, id: string): Promise<any> {
  return waitFor(async () => (await t.ok(SIMULATION, { id })).simulation, {
    until: (simulation) => !['QUEUED', 'RUNNING'].includes(simulation.status),
    timeoutMs: 170_000,
    intervalMs: 250,
    what: `simulation ${id} to finish`,
  });
}

async function realState(t: TestServer, d: string) {
  const [row] = await t.sql(
    `SELECT (SELECT count(*)::int FROM label WHERE dataset_id = $1) AS labels,
            (SELECT count(*)::int FROM label_query WHERE dataset_id = $1) AS queries,
            (SELECT count(*)::int FROM round WHERE dataset_id = $1) AS rounds,
            (SELECT count(*)::int FROM model WHERE dataset_id = $1) AS models`,
    [d],
  );
  return row;
}

describeEachDb('simulation', (t) => {
  let d: string;

  beforeAll(async () => {
    d = await digitsWithTruth(t(), 'digits-sim');
  });

  it('margin beats random on the digits (5 repeats, seed 20, batch 20, budget 200) without touching real labels or queues', async () => {
    const before = await realState(t(), d);
    const { simulate } = await t().ok(SIMULATE, {
      i: {
        datasetId: d,
        strategies: [{ strategy: 'random' }, { strategy: 'margin' }],
        seedSize: 20,
        batchSize: 20,
        budget: 200,
        repeats: 5,
        trainer: 'softmax',
        // The notebook's C: cross-validating C at every step would multiply the CPU by ~10.
        trainerOptions: { C: 10 },
        seed: 11,
      },
    });
    expect(simulate.status).toBe('QUEUED');
    const s = await settle(t(), simulate.id);
    expect(s.error).toBeNull();
    expect(s.status).toBe('SUCCEEDED');
    expect(s.progressDone).toBe(s.progressTotal);
    const [random, margin] = s.curves;
    expect(random.strategy).toBe('random');
    expect(margin.points.map((p: any) => p.labels)).toEqual([
      20, 40, 60, 80, 100, 120, 140, 160, 180, 200,
    ]);
    for (const p of margin.points) {
      expect(p.accuracies).toHaveLength(5);
      expect(p.minAccuracy).toBeLessThanOrEqual(p.meanAccuracy);
      expect(p.maxAccuracy).toBeGreaterThanOrEqual(p.meanAccuracy);
    }
    // The same seed sets: both strategies start from the same accuracies.
    expect(margin.points[0].accuracies).toEqual(random.points[0].accuracies);
    const last = (c: any) => c.points[c.points.length - 1].meanAccuracy;
    expect(last(margin)).toBeGreaterThan(last(random));
    expect(margin.auc.mean).toBeGreaterThan(random.auc.mean);
    expect(await realState(t(), d)).toEqual(before);
  }, 180_000);

  it('refuses bad requests with BAD_USER_INPUT and creates nothing', async () => {
    const base = {
      datasetId: d,
      strategies: [{ strategy: 'margin' }],
      seedSize: 20,
      batchSize: 20,
      budget: 200,
      repeats: 2,
    };
    const [{ n: before }] = await t().sql('SELECT count(*)::int AS n FROM task');
    for (const i of [
      { ...base, strategies: [{ strategy: 'psychic' }] },
      { ...base, strategies: [] },
      { ...base, strategies: [{ strategy: 'margin', params: { unknown: 1 } }] },
      { ...base, seedSize: 1 },
      { ...base, batchSize: 0 },
      { ...base, budget: 20 },
      { ...base, budget: 5000 },
      { ...base, repeats: 0 },
      { ...base, repeats: 21 },
      { ...base, trainer: 'forest' },
      { ...base, trainerOptions: { maxIterations: -1 } },
    ]) {
      const res = await t().gql(SIMULATE, { i });
      expect([JSON.stringify(i), codeOf(res)]).toEqual([JSON.stringify(i), 'BAD_USER_INPUT']);
    }
    const [{ n: after }] = await t().sql('SELECT count(*)::int AS n FROM task');
    expect(after).toBe(before);
  });

  it('refuses a dataset without TEST items that carry ground truth', async () => {
    const { createDataset } = await t().ok(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { name: 'no-truth', classes: ['a', 'b'], featureDim: 2 } },
    );
    const res = await t().gql(SIMULATE, {
      i: { datasetId: createDataset.id, strategies: [{ strategy: 'random' }], budget: 30 },
    });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].message).toMatch(/TEST items with ground truth/);
  });
});
