import {
  countPool,
  labelledFeaturesCopy,
  poolFeaturesCopy,
  stillEligible,
} from '../../src/db/sql/pool.sql';
import { BudgetExhaustedError, ErrorCode } from '../../src/errors';

const DATASET = '3f8e0a62-1b2c-4d5e-8f90-0123456789ab';
const ROUND = '11111111-2222-4333-8444-555555555555';

describe('pool eligibility', () => {
  it('inlines only checked ids into the COPY select of a pool', () => {
    const select = poolFeaturesCopy({ datasetId: DATASET, labels: 'any', roundId: ROUND })(
      '120',
      500,
    );
    expect(select).toContain(`i.dataset_id = '${DATASET}'::uuid`);
    expect(select).toContain(`lq.round_id <> '${ROUND}'::uuid`);
    expect(select).toContain('i.id > 120 ORDER BY i.id LIMIT 500');
    expect(() => poolFeaturesCopy({ datasetId: "x' OR '1'='1", labels: 'any' })).toThrow(
      /only those may be inlined/,
    );
    expect(() =>
      labelledFeaturesCopy("x'; DROP TABLE item; --", 'VALIDATION', 'human-or-import'),
    ).toThrow(/only those may be inlined/);
    const chunk = poolFeaturesCopy({ datasetId: DATASET, labels: 'any' });
    expect(() => chunk('1 OR 1=1', 10)).toThrow(/decimal item id/);
  });

  it('writes one rule for counting, streaming and checking again', () => {
    const scope = { datasetId: DATASET, labels: 'human-or-import' as const };
    const count = countPool(scope);
    const still = stillEligible(['1', '2'], scope);
    const copy = poolFeaturesCopy(scope)('0', 10);
    for (const text of [count.text, still.text, copy]) {
      expect(text).toContain("l.source IN ('HUMAN', 'IMPORT')");
      expect(text).toContain("lq.status IN ('OPEN', 'NEEDS_REVIEW')");
    }
    expect(count.values).toEqual([DATASET]);
    expect(still.values).toEqual([['1', '2']]);
    expect(copy).not.toContain('round_id');
  });
});

describe('BudgetExhaustedError', () => {
  it('says what was asked, what is left of what, where the rest went and what to do', () => {
    const e = new BudgetExhaustedError({
      what: 'A round of 3 queries (2 answers each)',
      needed: 6,
      left: 1,
      total: 10,
      spent: 4,
      held: 2,
      owed: 5,
      reserved: 0,
      instead: 'start a smaller round',
    });
    expect(e.extensions.code).toBe(ErrorCode.BUDGET_EXHAUSTED);
    expect(e.message).toBe(
      "A round of 3 queries (2 answers each) needs 6 budget units, but only 1 of 10 remain (4 spent, 5 owed to open queries of which 2 held by claims, 0 reserved by running rounds). Nothing was done: start a smaller round, or raise the dataset's labelBudget.",
    );
  });
});
