import path from 'node:path';
import { ApiKeyRole } from '../../src/entities';
import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { CLAIM, CLASSES, SUBMIT, openRound, withQueryList } from '../helpers/queues';

const SYNTHESIZE = `mutation($d: ID!, $m: String!, $n: Int!, $p: JSON, $s: Int) {
  synthesizeItems(datasetId: $d, method: $m, count: $n, params: $p, seed: $s) {
    items { id externalId origin split parents synthesis payload featuresBase64 }
    round { id mechanism strategy status size seed params }
  }
}`;

const COUNTS = `query($d: ID!) {
  items(datasetId: $d, first: 0) { totalCount }
  synthetic: items(datasetId: $d, first: 0, filter: { origin: SYNTHETIC }) { totalCount }
  labelQueue(datasetId: $d, first: 0) { totalCount }
}`;

const BUDGET = `query($d: ID!) {
  dataset(id: $d) { budget { total spent held remaining byMechanism { mechanism spent held owed } } }
}`;

interface Source {
  externalId: string;
  features: number[];
  label?: string;
  split?: string;
}

/** Class c sits around (10c, -10c, c, 1), with a little spread so every feature varies. */
function around(c: number, j: number): number[] {
  return [10 * c + Math.sin(j), -10 * c + Math.cos(j), c + 0.1 * j, 1 + 0.01 * j];
}

/**
 * A dataset of 4-float items: labelled POOL items (`labelled[c]` of class c), 2 labelled
 * VALIDATION and 1 TEST item per class, and 5 unlabelled POOL items.
 */
async function synthesisDataset(
  t: TestServer,
  name: string,
  labelled: number[],
  opts: { labelBudget?: number | null; annotationsPerItem?: number } = {},
): Promise<{ d: string; ids: Map<string, string>; sources: Source[] }> {
  const { createDataset } = await t.ok(
    'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
    {
      i: {
        name,
        classes: CLASSES,
        featureDim: 4,
        labelBudget: opts.labelBudget ?? null,
        annotationsPerItem: opts.annotationsPerItem ?? 1,
      },
    },
  );
  const sources: Source[] = [];
  labelled.forEach((n, c) => {
    for (let j = 0; j < n; j++)
      sources.push({ externalId: `pool-${c}-${j}`, features: around(c, j), label: CLASSES[c] });
    for (let j = 0; j < 2; j++) {
      sources.push({
        externalId: `val-${c}-${j}`,
        features: around(c, 50 + j),
        label: CLASSES[c],
        split: 'VALIDATION',
      });
    }
    sources.push({
      externalId: `test-${c}`,
      features: around(c, 60),
      label: CLASSES[c],
      split: 'TEST',
    });
  });
  for (let j = 0; j < 5; j++)
    sources.push({ externalId: `free-${j}`, features: around(j % 3, 70 + j) });
  const { importItems } = await t.ok(
    'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { itemIds } }',
    { d: createDataset.id, items: sources },
  );
  const ids = new Map<string, string>(
    sources.map((s, i) => [importItems.itemIds[i] as string, s.externalId]),
  );
  return { d: createDataset.id, ids, sources };
}

function decode(b64: string): number[] {
  const bytes = Buffer.from(b64, 'base64');
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
}

async function counts(t: TestServer, d: string) {
  const r = await t.ok(COUNTS, { d });
  return {
    items: r.items.totalCount,
    synthetic: r.synthetic.totalCount,
    queue: r.labelQueue.totalCount,
  };
}

async function featuresOf(t: TestServer, id: string): Promise<number[]> {
  const { item } = await t.ok('query($id: ID!) { item(id: $id) { featuresBase64 } }', { id });
  return decode(item.featuresBase64);
}

async function releaseAll(t: TestServer, tokens: string[], key?: string) {
  for (const token of tokens) {
    await t.ok('mutation($t: String!) { releaseQuery(claimToken: $t) { id } }', { t: token }, key);
  }
}

describeEachDb(
  'membership query synthesis',
  (t) => {
    describe('methods', () => {
      let d: string;
      let ids: Map<string, string>;
      let sourceFeatures: Map<string, number[]>;
      /** Parent id → class index, for the labelled POOL items only. */
      let poolClass: Map<string, number>;

      beforeAll(async () => {
        ({ d, ids } = await synthesisDataset(t(), 'methods', [4, 3, 2]));
        sourceFeatures = new Map();
        poolClass = new Map();
        for (const [id, externalId] of ids) {
          sourceFeatures.set(id, await featuresOf(t(), id));
          const m = /^pool-(\d)-/.exec(externalId);
          if (m) poolClass.set(id, Number(m[1]));
        }
      });

      it('lists the built-in methods and the configured plugin module’s, with their defaults', async () => {
        const { synthesisMethods } = await t().ok(
          '{ synthesisMethods { code description paramsSchema defaults } }',
        );
        expect(synthesisMethods.map((m: any) => m.code)).toEqual([
          'broken',
          'gaussian',
          'midpoint',
          'mixup',
          'smote',
        ]);
        const smote = synthesisMethods.find((m: any) => m.code === 'smote');
        expect(smote.defaults).toEqual({ k: 5, classes: [] });
        expect(smote.paramsSchema.type).toBe('object');
      });

      /** Checks what every method's items share, and returns them with their decoded features. */
      async function synthesizeChecked(method: string, count: number, params?: object) {
        const before = await counts(t(), d);
        const { synthesizeItems } = await t().ok(SYNTHESIZE, {
          d,
          m: method,
          n: count,
          p: params,
          s: 11,
        });
        const { items, round } = synthesizeItems;
        expect(items).toHaveLength(count);
        expect(round).toMatchObject({
          mechanism: 'SYNTHESIS',
          strategy: `synthesis:${method}`,
          status: 'OPEN',
          size: count,
          seed: 11,
        });
        for (const item of items) {
          expect(item).toMatchObject({ origin: 'SYNTHETIC', split: 'POOL' });
          expect(item.externalId).toMatch(new RegExp(`^synthetic:${method}:`));
          expect(item.synthesis).toMatchObject({ method, seed: 11 });
          expect(item.payload).toMatchObject({ synthetic: true, method, parents: item.parents });
          expect(item.payload.parentExternalIds).toEqual(
            item.parents.map((p: string) => ids.get(p)),
          );
          // Parents are labelled POOL items: never VALIDATION/TEST, unlabelled or synthetic ones.
          expect(item.parents.length).toBeGreaterThan(0);
          for (const p of item.parents) expect(poolClass.has(p)).toBe(true);
          const features = decode(item.featuresBase64);
          expect(features).toHaveLength(4);
          for (const f of features) expect(Number.isFinite(f)).toBe(true);
        }
        expect(new Set(items.map((i: any) => i.id)).size).toBe(count);
        const after = await counts(t(), d);
        expect(after).toEqual({
          items: before.items + count,
          synthetic: before.synthetic + count,
          queue: before.queue + count,
        });
        // Every item is queued, in this batch, in the order made.
        const { round: queued } = await t().ok(
          'query($id: ID!) { round(id: $id) { queries(first: 1000) { edges { node { itemId rank status reason } } } } }',
          { id: round.id },
        );
        expect(withQueryList(queued).queries.map((q: any) => [q.itemId, q.rank, q.status])).toEqual(
          items.map((i: any, n: number) => [i.id, n + 1, 'OPEN']),
        );
        expect(withQueryList(queued).queries[0].reason).toMatchObject({
          synthesis: method,
          parents: items[0].parents,
        });
        return items.map((i: any) => ({ ...i, features: decode(i.featuresBase64) }));
      }

      it('smote makes points between an item and a same-class neighbour', async () => {
        const items = await synthesizeChecked('smote', 7, { k: 2 });
        for (const item of items) {
          expect(item.parents).toHaveLength(2);
          const [a, b] = item.parents;
          expect(a).not.toBe(b);
          expect(poolClass.get(a)).toBe(poolClass.get(b));
          expect(item.synthesis.intendedClass).toBe(CLASSES[poolClass.get(a)!]);
          const { gap, k } = item.synthesis.record;
          expect(gap).toBeGreaterThanOrEqual(0);
          expect(gap).toBeLessThan(1);
          expect(k).toBeLessThanOrEqual(2);
          const fa = sourceFeatures.get(a)!;
          const fb = sourceFeatures.get(b)!;
          item.features.forEach((f: number, i: number) =>
            expect(f).toBeCloseTo(fa[i] + gap * (fb[i] - fa[i]), 4),
          );
        }
      });

      it('smote synthesises only for the classes asked for', async () => {
        const items = await synthesizeChecked('smote', 3, { classes: [2] });
        for (const item of items)
          expect(item.parents.map((p: string) => poolClass.get(p))).toEqual([2, 2]);
      });

      it('mixup mixes items of two different classes', async () => {
        const items = await synthesizeChecked('mixup', 6, { alpha: 0.5 });
        for (const item of items) {
          expect(item.parents).toHaveLength(2);
          const [a, b] = item.parents;
          expect(poolClass.get(a)).not.toBe(poolClass.get(b));
          const { lambda, classA, classB } = item.synthesis.record;
          expect([classA, classB]).toEqual([poolClass.get(a), poolClass.get(b)]);
          expect(item.synthesis.intendedClass).toBe(CLASSES[lambda >= 0.5 ? classA : classB]);
          const fa = sourceFeatures.get(a)!;
          const fb = sourceFeatures.get(b)!;
          item.features.forEach((f: number, i: number) =>
            expect(f).toBeCloseTo(lambda * fa[i] + (1 - lambda) * fb[i], 4),
          );
        }
      });

      it('gaussian adds noise around one labelled item', async () => {
        const items = await synthesizeChecked('gaussian', 5, { sigma: 0.05 });
        for (const item of items) {
          expect(item.parents).toHaveLength(1);
          const base = sourceFeatures.get(item.parents[0])!;
          const { noiseNorm, sigma } = item.synthesis.record;
          expect(sigma).toBe(0.05);
          const distance = Math.hypot(...item.features.map((f: number, i: number) => f - base[i]));
          expect(distance).toBeCloseTo(noiseNorm, 3);
          expect(distance).toBeGreaterThan(0);
          expect(distance).toBeLessThan(5);
        }
      });

      it('a plugin method from QUARRY_SYNTHESIS_MODULES works like a built-in one', async () => {
        const items = await synthesizeChecked('midpoint', 2);
        expect(items[0].synthesis.intendedClass).toBeNull();
      });

      it('makes the same items from the same seed', async () => {
        const a = await t().ok(SYNTHESIZE, { d, m: 'mixup', n: 3, s: 5 });
        const b = await t().ok(SYNTHESIZE, { d, m: 'mixup', n: 3, s: 5 });
        const strip = (r: any) =>
          r.synthesizeItems.items.map((i: any) => [i.parents, i.featuresBase64]);
        expect(strip(b)).toEqual(strip(a));
      });

      it('lists synthetic items with their parents and synthesis, and imported ones with null', async () => {
        const { items } = await t().ok(
          `query($d: ID!) { items(datasetId: $d, first: 1000) { edges { node { id origin split parents synthesis } } } }`,
          { d },
        );
        const nodes = items.edges.map((e: any) => e.node);
        const synthetic = nodes.filter((n: any) => n.origin === 'SYNTHETIC');
        expect(synthetic.length).toBeGreaterThan(0);
        for (const n of synthetic) {
          expect(n.split).toBe('POOL');
          expect(n.parents.length).toBeGreaterThan(0);
          expect(n.synthesis.method).toBeDefined();
        }
        for (const n of nodes.filter((x: any) => x.origin === 'IMPORTED')) {
          expect(n).toMatchObject({ parents: null, synthesis: null });
        }
        // No synthetic item reaches the VALIDATION or TEST splits that model metrics read.
        for (const [split, n] of [
          ['VALIDATION', 6],
          ['TEST', 3],
        ] as const) {
          const { items: held } = await t().ok(
            'query($d: ID!, $s: ItemSplit) { items(datasetId: $d, first: 1000, filter: { split: $s }) { edges { node { origin } } } }',
            { d, s: split },
          );
          expect(held.edges).toHaveLength(n);
          expect(held.edges.every((e: any) => e.node.origin === 'IMPORTED')).toBe(true);
        }
      });

      it('an answered synthetic query’s label exports with origin SYNTHETIC, and its item never parents another', async () => {
        const { synthesizeItems } = await t().ok(SYNTHESIZE, { d, m: 'gaussian', n: 1 });
        const [item] = synthesizeItems.items;
        const { claimQueries } = await t().ok(CLAIM, { d, n: 1 });
        expect(claimQueries[0].query.itemId).toBe(item.id);
        await t().ok(SUBMIT, { q: claimQueries[0].query.id, v: 'dog', t: claimQueries[0].token });

        const base = t().url.replace(/\/graphql$/, '');
        const res = await fetch(`${base}/export/labels?datasetId=${d}&format=jsonl`, {
          headers: { authorization: `Bearer ${t().adminKey}` },
        });
        expect(res.status).toBe(200);
        const rows = (await res.text())
          .split('\n')
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l));
        const exported = rows.find((r) => r.itemId === item.id);
        expect(exported).toMatchObject({
          externalId: item.externalId,
          label: 'dog',
          source: 'HUMAN',
          origin: 'SYNTHETIC',
        });
        expect(rows.filter((r) => r.origin === 'SYNTHETIC')).toHaveLength(1);

        // A labelled synthetic item is not a source: the labelled set stays the imported one.
        const again = await t().ok(SYNTHESIZE, { d, m: 'gaussian', n: 40, p: { sigma: 0.01 } });
        for (const i of again.synthesizeItems.items) expect(poolClass.has(i.parents[0])).toBe(true);
      });
    });

    describe('bad requests', () => {
      let d: string;
      let before: { items: number; synthetic: number; queue: number };

      beforeAll(async () => {
        ({ d } = await synthesisDataset(t(), 'bad', [3, 2, 1]));
        before = await counts(t(), d);
      });

      afterEach(async () => {
        expect(await counts(t(), d)).toEqual(before);
      });

      const cases: [string, Record<string, unknown>, RegExp][] = [
        ['an unknown method', { m: 'smoothie', n: 1 }, /Unknown synthesis method "smoothie"/],
        ['a parameter the method does not have', { m: 'smote', n: 1, p: { kk: 3 } }, /params\.kk/],
        ['a parameter out of range', { m: 'smote', n: 1, p: { k: 0 } }, /params\.k/],
        ['params that are not an object', { m: 'mixup', n: 1, p: [1] }, /params must be an object/],
        [
          'a class index the dataset does not have',
          { m: 'gaussian', n: 1, p: { classes: [5] } },
          /params\.classes names class index 5, but the dataset's classes are indexes 0 to 2/,
        ],
        ['smote for a class of one item', { m: 'smote', n: 1, p: { classes: [2] } }, /class 2/],
        [
          'mixup of a single class',
          { m: 'mixup', n: 1, p: { classes: [0] } },
          /two different classes/,
        ],
        ['a count of 0', { m: 'smote', n: 0 }, /count must be an integer from 1 to 10000/],
        ['a count above the limit', { m: 'smote', n: 10_001 }, /count must be/],
        ['a negative seed', { m: 'smote', n: 1, s: -1 }, /seed must be/],
      ];
      it.each(cases)(
        'refuses %s with BAD_USER_INPUT and creates nothing',
        async (_, vars, message) => {
          const res = await t().gql(SYNTHESIZE, { d, ...vars });
          expect(codeOf(res)).toBe('BAD_USER_INPUT');
          expect(res.errors![0].message).toMatch(message);
        },
      );

      it('refuses smote when no class has two labelled items, and mixup with one labelled class', async () => {
        const { d: sparse } = await synthesisDataset(t(), 'sparse', [1, 1, 0]);
        const { d: single } = await synthesisDataset(t(), 'single', [4, 0, 0]);
        const { d: none } = await synthesisDataset(t(), 'none', [0, 0, 0]);
        const smote = await t().gql(SYNTHESIZE, { d: sparse, m: 'smote', n: 1 });
        expect(codeOf(smote)).toBe('BAD_USER_INPUT');
        expect(smote.errors![0].message).toMatch(/no class has 2 labelled items/);
        const mixup = await t().gql(SYNTHESIZE, { d: single, m: 'mixup', n: 1 });
        expect(codeOf(mixup)).toBe('BAD_USER_INPUT');
        expect(mixup.errors![0].message).toMatch(/only 1 class/);
        // VALIDATION and TEST labels do not count: this dataset has 9 of them and no POOL label.
        const gaussian = await t().gql(SYNTHESIZE, { d: none, m: 'gaussian', n: 1 });
        expect(codeOf(gaussian)).toBe('BAD_USER_INPUT');
        for (const x of [sparse, single, none]) expect((await counts(t(), x)).synthetic).toBe(0);
      });

      it('answers a plugin’s bad output with an internal error and creates nothing', async () => {
        const res = await t().gql(SYNTHESIZE, { d, m: 'broken', n: 2 });
        expect(codeOf(res)).toBe('INTERNAL_SERVER_ERROR');
        expect(res.errors![0].message).not.toMatch(/broken/);
      });

      it('refuses an annotator key (FORBIDDEN) and an unknown dataset (NOT_FOUND)', async () => {
        const annotator = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
        expect(codeOf(await t().gql(SYNTHESIZE, { d, m: 'smote', n: 1 }, annotator))).toBe(
          'FORBIDDEN',
        );
        expect(
          codeOf(
            await t().gql(SYNTHESIZE, {
              d: '00000000-0000-4000-8000-000000000000',
              m: 'smote',
              n: 1,
            }),
          ),
        ).toBe('NOT_FOUND');
      });

      it('cannot import an item as synthetic', async () => {
        const res = await t().gql(
          'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
          { d, items: [{ externalId: 'fake', features: [1, 2, 3, 4], origin: 'SYNTHETIC' }] },
        );
        expect(codeOf(res)).toBe('BAD_USER_INPUT');
      });
    });

    describe('budget', () => {
      it('spends annotationsPerItem units per item and refuses a request the budget cannot cover, creating nothing', async () => {
        const { d } = await synthesisDataset(t(), 'budget', [3, 3, 0], {
          labelBudget: 9,
          annotationsPerItem: 2,
        });
        await t().ok(SYNTHESIZE, { d, m: 'smote', n: 3 });
        let budget = (await t().ok(BUDGET, { d })).dataset.budget;
        expect(budget.byMechanism).toEqual([
          { mechanism: 'SYNTHESIS', spent: 0, held: 0, owed: 6 },
        ]);
        const before = await counts(t(), d);
        // 6 of 9 units are owed to the open queries: 2 more items (4 units) do not fit.
        const res = await t().gql(SYNTHESIZE, { d, m: 'mixup', n: 2 });
        expect(codeOf(res)).toBe('BUDGET_EXHAUSTED');
        expect(res.errors![0].message).toMatch(/needs 4 budget units, but only 3 of 9 remain/);
        expect(await counts(t(), d)).toEqual(before);
        const [{ n: rounds }] = await t().sql(
          `SELECT count(*)::int AS n FROM round WHERE dataset_id = $1`,
          [d],
        );
        expect(rounds).toBe(1);
        // One item (2 units) still fits.
        await t().ok(SYNTHESIZE, { d, m: 'mixup', n: 1 });
        budget = (await t().ok(BUDGET, { d })).dataset.budget;
        expect(budget.byMechanism).toEqual([
          { mechanism: 'SYNTHESIS', spent: 0, held: 0, owed: 8 },
        ]);
      });

      it('shows every unit spent, held and owed by mechanism, summing to the totals', async () => {
        const { d } = await synthesisDataset(t(), 'ledger', [3, 3, 3], { labelBudget: 100 });
        const pool = await openRound(t(), d, 3);
        const { synthesizeItems } = await t().ok(SYNTHESIZE, { d, m: 'smote', n: 4 });
        const synthesisRound = synthesizeItems.round.id;

        const annotator = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
        const { claimQueries } = await t().ok(CLAIM, { d, n: 7 }, annotator);
        expect(claimQueries).toHaveLength(7);
        const of = (roundId: string) =>
          claimQueries.filter((c: any) => c.query.roundId === roundId);
        const [s1, s2, s3] = of(synthesisRound);
        const [p1, p2] = of(pool);
        expect(of(synthesisRound)).toHaveLength(4);
        expect(of(pool)).toHaveLength(3);
        for (const c of [s1, p1, p2]) {
          await t().ok(SUBMIT, { q: c.query.id, v: 'cat', t: c.token }, annotator);
        }
        await releaseAll(t(), [s2.token, s3.token], annotator);

        const { budget } = (await t().ok(BUDGET, { d })).dataset;
        const byMechanism = Object.fromEntries(
          budget.byMechanism.map(({ mechanism, ...rest }: any) => [mechanism, rest]),
        );
        // SYNTHESIS: 1 answered, 1 still claimed, 2 released; 3 answers owed (held one included).
        // POOL_ROUND: 2 answered, 1 still claimed and owed.
        expect(byMechanism).toEqual({
          SYNTHESIS: { spent: 1, held: 1, owed: 3 },
          POOL_ROUND: { spent: 2, held: 1, owed: 1 },
        });
        const sum = (f: string) => budget.byMechanism.reduce((s: number, r: any) => s + r[f], 0);
        expect(budget).toMatchObject({ total: 100, spent: 3, held: 2, remaining: 93 });
        expect(sum('spent')).toBe(budget.spent);
        expect(sum('held')).toBe(budget.held);
        // What new queries may use: the budget less what is spent and owed.
        const free = budget.total - sum('spent') - sum('owed');
        expect(free).toBe(100 - 3 - 4);
        expect(budget.remaining).toBe(free);
        const over = await t().gql(SYNTHESIZE, { d, m: 'smote', n: free + 1 });
        expect(codeOf(over)).toBe('BUDGET_EXHAUSTED');
        expect(over.errors![0].message).toMatch(new RegExp(`only ${free} of 100 remain`));
      });
    });
  },
  {
    synthesisModules: [path.resolve(__dirname, '../fixtures/synthesis-plugins/midpoint.js')],
  },
);
