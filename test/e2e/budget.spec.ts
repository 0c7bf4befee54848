import { Client } from 'pg';
import { lockBudget } from '../../src/db/sql/budget.sql';
import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { testModel } from '../helpers/models';
import { CLAIM, CLASSES, openRound, queueDataset, SUBMIT } from '../helpers/queues';

const BUDGET = `query($d: ID!) { dataset(id: $d) { budget { total spent held owed reserved remaining
  byMechanism { mechanism spent held owed } } } }`;
const STREAM = `mutation($d: ID!, $m: ID!, $items: [ImportItemInput!]!, $p: StreamPolicyInput!) {
  streamItems(datasetId: $d, modelId: $m, items: $items, policy: $p) { budgetRemaining }
}`;
const START = 'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }';
const CANCEL = 'mutation($id: ID!) { cancelRound(id: $id) { status } }';

/**
 * The three places the API shows what is left of a budget, read at one moment: the dataset's
 * `budget` (with what open queries are owed, in total and by mechanism), a stream's
 * `budgetRemaining` (an empty call decides nothing and spends nothing) and the number a refused
 * round names.
 */
async function readings(t: TestServer, d: string, m: string) {
  const { budget } = (await t.ok(BUDGET, { d })).dataset;
  const { streamItems } = await t.ok(STREAM, {
    d,
    m,
    items: [],
    p: { code: 'fixed-threshold', params: { threshold: 0.9 } },
  });
  // More than any budget here: always refused, naming what is left.
  const refused = await t.gql(START, { i: { datasetId: d, strategy: 'random', size: 1000 } });
  expect(codeOf(refused)).toBe('BUDGET_EXHAUSTED');
  const named = /but only (\d+) of (\d+) remain/.exec(refused.errors![0].message);
  expect(named).not.toBeNull();
  const sum = (f: 'spent' | 'owed') =>
    budget.byMechanism.reduce((s: number, r: any) => s + r[f], 0);
  expect(sum('spent')).toBe(budget.spent);
  expect(sum('owed')).toBe(budget.owed);
  return {
    remaining: budget.remaining as number,
    spent: budget.spent as number,
    held: budget.held as number,
    owed: budget.owed as number,
    reserved: budget.reserved as number,
    streamRemaining: streamItems.budgetRemaining as number,
    refusedRemaining: Number(named![1]),
    refusedTotal: Number(named![2]),
  };
}

describeEachDb('one label budget, shown alike everywhere', (t) => {
  let d: string;
  let m: string;

  beforeAll(async () => {
    d = await queueDataset(t(), 'one-budget', { items: 30, labelBudget: 10 });
    const { registerModel } = await t().ok(
      'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id } }',
      { d, b: testModel({ featureDim: 4, classes: CLASSES.length }).toString('base64') },
    );
    m = registerModel.id;
  });

  it('shows one number left in dataset.budget, streamItems and startRound while no query is open', async () => {
    const r = await readings(t(), d, m);
    expect(r).toMatchObject({ remaining: 10, streamRemaining: 10, refusedRemaining: 10 });
    expect(r.refusedTotal).toBe(10);
  });

  it('counts what open queries are owed in dataset.budget, streamItems and startRound alike', async () => {
    const round = await openRound(t(), d, 4);
    let r = await readings(t(), d, m);
    // Open queries nobody has claimed yet are promised their units: nothing new may use them.
    expect(r).toMatchObject({
      held: 0,
      owed: 4,
      reserved: 0,
      remaining: 6,
      streamRemaining: 6,
      refusedRemaining: 6,
    });

    const { claimQueries } = await t().ok(CLAIM, { d, n: 2 });
    await t().ok(SUBMIT, {
      q: claimQueries[0].query.id,
      v: CLASSES[0],
      t: claimQueries[0].token,
    });
    r = await readings(t(), d, m);
    // A claim moves a unit from owed-and-free to owed-and-held; an answer from owed to spent.
    expect(r).toMatchObject({ spent: 1, held: 1, owed: 3, remaining: 6 });
    expect(r.streamRemaining).toBe(r.remaining);
    expect(r.refusedRemaining).toBe(r.remaining);

    // Closing the round frees what its open queries were owed: the numbers meet again.
    await t().ok(CANCEL, { id: round });
    r = await readings(t(), d, m);
    expect(r).toMatchObject({
      spent: 1,
      held: 0,
      owed: 0,
      remaining: 9,
      streamRemaining: 9,
      refusedRemaining: 9,
    });
  });

  it('refuses claims and rounds with BUDGET_EXHAUSTED in one wording once nothing is left', async () => {
    await openRound(t(), d, 9);
    const { claimQueries } = await t().ok(CLAIM, { d, n: 9 });
    expect(claimQueries).toHaveLength(9);
    const r = await readings(t(), d, m);
    expect(r).toMatchObject({ remaining: 0, streamRemaining: 0, refusedRemaining: 0 });

    const claim = await t().gql(CLAIM, { d, n: 1 });
    expect(codeOf(claim)).toBe('BUDGET_EXHAUSTED');
    const round = await t().gql(START, { i: { datasetId: d, strategy: 'random', size: 1 } });
    expect(codeOf(round)).toBe('BUDGET_EXHAUSTED');
    const wording =
      /^.+ needs 1 budget unit, but only 0 of 10 remain \(1 spent, 9 owed to open queries of which 9 held by claims, 0 reserved by running rounds\)\. Nothing was done: .+, or raise the dataset's labelBudget\.$/;
    expect(claim.errors![0].message).toMatch(wording);
    expect(round.errors![0].message).toMatch(wording);
  });

  it('lets items of a dataset be written while its budget is locked, and budget checks take turns (PostgreSQL)', async () => {
    const url = t().databaseUrl;
    if (!url) return; // PGlite runs one connection at a time: nothing waits for anything.
    const holder = new Client({ connectionString: url });
    const writer = new Client({ connectionString: url });
    await holder.connect();
    await writer.connect();
    try {
      await holder.query('BEGIN');
      const lock = lockBudget(d);
      await holder.query(lock.text, lock.values);
      // The item's foreign key to the dataset takes KEY SHARE on the dataset row: FOR UPDATE
      // would make it wait until the budget check ends; the budget lock does not.
      await writer.query("SET statement_timeout = '3s'");
      await writer.query(
        `INSERT INTO item (dataset_id, external_id, payload, features, split, origin)
         VALUES ($1, 'written-while-locked', '{}', $2, 'POOL', 'IMPORTED')`,
        [d, Buffer.alloc(16)],
      );
      // Two budget checks of one dataset still take turns.
      await writer.query("SET lock_timeout = '200ms'");
      await expect(writer.query(lock.text, lock.values)).rejects.toThrow(/lock timeout/);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await writer.end();
    }
  });
});
