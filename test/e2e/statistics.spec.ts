import { refreshStatistics } from '../../src/db/statistics';
import type { AnalyzedTable } from '../../src/db/sql/statistics.sql';
import type { Queryable } from '../../src/db/sql/statement';
import { CLAIM, openRound, queueDataset } from '../helpers/queues';
import { describeEachDb } from '../helpers/server';

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

  it('refuses to analyze a table it does not keep', async () => {
    await expect(refreshStatistics(db(), 'model' as AnalyzedTable, 1000)).rejects.toThrow(
      /not a table Quarry analyzes/,
    );
  });
});
