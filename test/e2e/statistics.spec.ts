import { refreshStatistics } from '../../src/db/statistics';
import type { AnalyzedTable } from '../../src/db/sql/statistics.sql';
import type { Queryable } from '../../src/db/sql/statement';
import { CLAIM, openRound, queueDataset } from '../helpers/queues';
import { describeEachDb } from '../helpers/server';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';
import { testModel } from '../helpers/models';

const TABLES: AnalyzedTable[] = ['item', 'label', 'label_query', 'query_slot', 'prediction'];

describeEachDb('planner statistics kept by Quarry', (t) => {
  const db = (): Queryable => ({ query: (text, values) => t().sql(text, values) });
  const plannerRows = async (table: AnalyzedTable) =>
    Number(
      (await t().sql('SELECT reltuples FROM pg_class WHERE oid = $1::regclass', [table]))[0]
        .reltuples,
    );

  beforeAll(async () => {
    // Whatever the server's autovacuum does, these tables get statistics only from Quarry.
    for (const table of TABLES)
      await t().sql(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
  });

  it('knows how many items and queries there are after an import and a round, with no ANALYZE of its own', async () => {
    expect(await plannerRows('item')).toBeLessThan(1);
    const d = await queueDataset(t(), 'planner-stats', { items: 400 });
    expect(await plannerRows('item')).toBe(400);

    expect(await plannerRows('label_query')).toBeLessThan(1);
    await openRound(t(), d, 200);
    expect(await plannerRows('label_query')).toBe(200);
    expect(await plannerRows('query_slot')).toBe(200);

    // The claim still works on the queue the planner now knows.
    const { claimQueries } = await t().ok(CLAIM, { d, n: 3 });
    expect(claimQueries).toHaveLength(3);
  });

  it('analyzes a table only after a write large against it (autovacuum’s 50 rows + 10% rule)', async () => {
    const known = await plannerRows('label_query');
    expect(known).toBeGreaterThanOrEqual(200);
    expect(await refreshStatistics(db(), 'label_query', 49)).toBe(false);
    expect(await refreshStatistics(db(), 'label_query', 50 + Math.floor(0.1 * known) - 1)).toBe(
      false,
    );
    expect(await refreshStatistics(db(), 'label_query', 50 + Math.ceil(0.1 * known))).toBe(true);
  });

  it('knows the items and predictions a stream batch wrote, with no ANALYZE of its own', async () => {
    const { createDataset } = await t().ok(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { name: 'planner-stream', classes: DIGIT_CLASSES, featureDim: 64 } },
    );
    const d = createDataset.id;
    const { registerModel } = await t().ok(
      'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id } }',
      { d, b: testModel({ seed: 1 }).toString('base64') },
    );
    const itemsBefore = await plannerRows('item');
    expect(await plannerRows('prediction')).toBeLessThan(1);
    const digits = loadDigits();
    await t().ok(
      `mutation($d: ID!, $m: ID!, $items: [ImportItemInput!]!, $p: StreamPolicyInput!) {
        streamItems(datasetId: $d, modelId: $m, items: $items, policy: $p) { queriedCount } }`,
      {
        d,
        m: registerModel.id,
        p: { code: 'fixed-threshold', params: { threshold: 0.5 } },
        items: digits.features.slice(0, 300).map((f, i) => ({
          externalId: `s${i}`,
          featuresBase64: f32base64(f),
        })),
      },
    );
    expect(await plannerRows('item')).toBe(itemsBefore + 300);
    expect(await plannerRows('prediction')).toBe(300);
  });

  it('analyzes items once for a dataset imported batch after batch, and again for a new dataset', async () => {
    const IMPORT =
      'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }';
    const create = async (name: string) =>
      (
        await t().ok('mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', {
          i: { name, classes: ['a', 'b'], featureDim: 2 },
        })
      ).createDataset.id as string;
    const batch = (prefix: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ externalId: `${prefix}${i}`, features: [i, 1] }));
    const planned = async (d: string) => {
      const [row] = await t().sql(
        `EXPLAIN (FORMAT JSON) SELECT 1 FROM item WHERE dataset_id = $1 AND split = 'POOL'`,
        [d],
      );
      const raw = row['QUERY PLAN'];
      return (typeof raw === 'string' ? JSON.parse(raw) : raw)[0].Plan['Plan Rows'] as number;
    };

    const a = await create('stats-batches');
    await t().ok(IMPORT, { d: a, items: batch('a', 2000) });
    const known = await plannerRows('item');
    // Later batches of the same dataset grow the table as the planner already assumes (it
    // scales its row count to the table's pages): no ANALYZE, and still a close estimate.
    for (const k of [1, 2, 3]) await t().ok(IMPORT, { d: a, items: batch(`a${k}-`, 1000) });
    expect(await plannerRows('item')).toBe(known);
    expect(await planned(a)).toBeGreaterThan(5000 / 2);
    expect(await planned(a)).toBeLessThan(5000 * 2);

    // A dataset the planner has never seen would be planned as a single row: analyzed.
    const b = await create('stats-new-dataset');
    await t().ok(IMPORT, { d: b, items: batch('b', 300) });
    expect(await plannerRows('item')).toBe(known + 3000 + 300);
    expect(await planned(b)).toBeGreaterThan(300 / 2);
    expect(await planned(b)).toBeLessThan(300 * 2);
  });

  it('refuses to analyze a table it does not keep', async () => {
    await expect(refreshStatistics(db(), 'model' as AnalyzedTable, 1000)).rejects.toThrow(
      /not a table Quarry analyzes/,
    );
  });
});
