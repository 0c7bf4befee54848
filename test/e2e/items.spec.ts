import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';

const IMPORT = `mutation($d: ID!, $items: [ImportItemInput!]!) {
  importItems(datasetId: $d, items: $items) { importedCount labelledCount itemIds }
}`;

async function createDataset(
  t: TestServer,
  name: string,
  featureDim: number,
  classes = ['a', 'b', 'c'],
): Promise<string> {
  const { createDataset } = await t.ok(
    'mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }',
    { input: { name, classes, featureDim } },
  );
  return createDataset.id;
}

async function countItems(t: TestServer, datasetId: string): Promise<number> {
  const [row] = await t.sql('SELECT count(*)::int AS n FROM item WHERE dataset_id = $1', [
    datasetId,
  ]);
  return row.n;
}

async function countLabels(t: TestServer, datasetId: string): Promise<number> {
  const [row] = await t.sql('SELECT count(*)::int AS n FROM label WHERE dataset_id = $1', [
    datasetId,
  ]);
  return row.n;
}

describeEachDb('items', (t) => {
  describe('importing the digits data', () => {
    const digits = loadDigits();
    let datasetId: string;
    let itemIds: string[] = [];

    beforeAll(async () => {
      datasetId = await createDataset(t(), 'digits', 64, DIGIT_CLASSES);
      for (let start = 0; start < digits.features.length; start += 1000) {
        const items = digits.features.slice(start, start + 1000).map((f, j) => ({
          externalId: `d${start + j}`,
          featuresBase64: f32base64(f),
          label: (start + j) % 10 === 1 ? digits.labels[start + j] : undefined,
          split: (start + j) % 5 === 0 ? 'TEST' : 'POOL',
          payload: { row: start + j },
        }));
        const { importItems } = await t().ok(IMPORT, { d: datasetId, items });
        itemIds = itemIds.concat(importItems.itemIds);
      }
    });

    it('stores every row and the labels that came with them', async () => {
      expect(itemIds).toHaveLength(1797);
      expect(await countItems(t(), datasetId)).toBe(1797);
      expect(await countLabels(t(), datasetId)).toBe(180);
    });

    it('gives the features back bit-exact, as base64 and as floats', async () => {
      const read: Record<string, { featuresBase64: string; features: number[] }> = {};
      let after: string | null = null;
      for (;;) {
        const { items }: any = await t().ok(
          `query($d: ID!, $after: String) { items(datasetId: $d, first: 500, after: $after) {
             pageInfo { hasNextPage endCursor } edges { node { externalId featuresBase64 features } } } }`,
          { d: datasetId, after },
        );
        for (const e of items.edges) read[e.node.externalId] = e.node;
        if (!items.pageInfo.hasNextPage) break;
        after = items.pageInfo.endCursor;
      }
      expect(Object.keys(read)).toHaveLength(1797);
      digits.features.forEach((f, i) => {
        expect(read[`d${i}`].featuresBase64).toBe(f32base64(f));
        expect(read[`d${i}`].features).toEqual(f);
      });
    });

    it('filters by split, by labelled or not, and by external ids, with totals', async () => {
      const q = `query($d: ID!, $f: ItemFilter) { items(datasetId: $d, filter: $f, first: 5) { totalCount edges { node { externalId split label { value source } } } } }`;
      const test = await t().ok(q, { d: datasetId, f: { split: 'TEST' } });
      expect(test.items.totalCount).toBe(360);
      expect(test.items.edges.every((e: any) => e.node.split === 'TEST')).toBe(true);
      const labelled = await t().ok(q, { d: datasetId, f: { labelled: true } });
      expect(labelled.items.totalCount).toBe(180);
      expect(labelled.items.edges[0].node.label).toEqual({
        value: digits.labels[1],
        source: 'IMPORT',
      });
      const unlabelled = await t().ok(q, { d: datasetId, f: { labelled: false, split: 'POOL' } });
      // 1437 POOL items, of which the 180 with i % 10 == 1 are labelled.
      expect(unlabelled.items.totalCount).toBe(1437 - 180);
      expect(unlabelled.items.edges.every((e: any) => e.node.label === null)).toBe(true);
      const byIds = await t().ok(q, { d: datasetId, f: { externalIds: ['d3', 'd7', 'nope'] } });
      expect(byIds.items.edges.map((e: any) => e.node.externalId)).toEqual(['d3', 'd7']);
    });

    it('pages through with cursors and reports page information', async () => {
      const q = `query($d: ID!, $after: String) { items(datasetId: $d, first: 2, after: $after) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { externalId } } } }`;
      const p1 = await t().ok(q, { d: datasetId });
      expect(p1.items.edges.map((e: any) => e.node.externalId)).toEqual(['d0', 'd1']);
      expect(p1.items.pageInfo).toMatchObject({
        hasNextPage: true,
        hasPreviousPage: false,
        endCursor: p1.items.edges[1].cursor,
      });
      const p2 = await t().ok(q, { d: datasetId, after: p1.items.pageInfo.endCursor });
      expect(p2.items.edges.map((e: any) => e.node.externalId)).toEqual(['d2', 'd3']);
      expect(p2.items.pageInfo.hasPreviousPage).toBe(true);
      const bad = await t().gql(q, { d: datasetId, after: 'not-a-cursor' });
      expect(codeOf(bad)).toBe('BAD_USER_INPUT');
      const tooMany = await t().gql(
        'query($d: ID!) { items(datasetId: $d, first: 5000) { totalCount } }',
        { d: datasetId },
      );
      expect(codeOf(tooMany)).toBe('BAD_USER_INPUT');
    });
  });

  describe('bad imports', () => {
    let datasetId: string;
    const good = (id: string) => ({ externalId: id, features: [1, 2, 3] });

    beforeAll(async () => {
      datasetId = await createDataset(t(), 'strict', 3);
      await t().ok(IMPORT, {
        d: datasetId,
        items: [good('stored-1'), { ...good('stored-2'), label: 'a' }],
      });
    });

    // Each case: what is wrong, the items (the first is always fine), the offender, a word of the message.
    const cases: [string, () => any[], string, string][] = [
      [
        'a vector of the wrong length',
        () => [good('x1'), { externalId: 'x2', features: [1, 2] }],
        'x2',
        'expected 3',
      ],
      [
        'a base64 vector of the wrong length',
        () => [good('x1'), { externalId: 'x2', featuresBase64: f32base64([1, 2, 3, 4]) }],
        'x2',
        'expected',
      ],
      [
        'a NaN value',
        () => [good('x1'), { externalId: 'x2', featuresBase64: f32base64([1, NaN, 3]) }],
        'x2',
        'NaN',
      ],
      [
        'an infinite value',
        () => [good('x1'), { externalId: 'x2', featuresBase64: f32base64([Infinity, 1, 3]) }],
        'x2',
        'Infinity',
      ],
      [
        'a value outside float32',
        () => [good('x1'), { externalId: 'x2', features: [1e39, 1, 3] }],
        'x2',
        'float32',
      ],
      [
        'invalid base64',
        () => [good('x1'), { externalId: 'x2', featuresBase64: '!!!!' }],
        'x2',
        'base64',
      ],
      [
        'both feature forms',
        () => [
          good('x1'),
          { externalId: 'x2', features: [1, 2, 3], featuresBase64: f32base64([1, 2, 3]) },
        ],
        'x2',
        'exactly one',
      ],
      ['no features', () => [good('x1'), { externalId: 'x2' }], 'x2', 'exactly one'],
      [
        'an external id twice in one call',
        () => [good('x1'), good('x2'), good('x1')],
        'x1',
        'duplicates item #0',
      ],
      [
        'an external id already stored',
        () => [good('x1'), good('stored-2')],
        'stored-2',
        'already exists',
      ],
      [
        'an unknown class',
        () => [good('x1'), { ...good('x2'), label: 'zebra' }],
        'x2',
        'not a class',
      ],
      ['an empty external id', () => [good('x1'), good('')], '', 'externalId'],
    ];

    it.each(cases)(
      'rejects %s, names the item, and writes nothing',
      async (_what, items, offender, text) => {
        const itemsBefore = await countItems(t(), datasetId);
        const labelsBefore = await countLabels(t(), datasetId);
        const res = await t().gql(IMPORT, { d: datasetId, items: items() });
        expect(codeOf(res)).toBe('BAD_USER_INPUT');
        expect(res.errors![0].message).toContain(text);
        const problems = res.errors![0].extensions!.problems as { id: string; message: string }[];
        expect(problems.map((p) => p.id)).toContain(offender);
        expect((problems as unknown as { index: number }[]).map((p) => p.index)).not.toContain(0);
        expect(await countItems(t(), datasetId)).toBe(itemsBefore);
        expect(await countLabels(t(), datasetId)).toBe(labelsBefore);
      },
    );

    it('rejects more than 10,000 items in one call and writes nothing', async () => {
      const items = Array.from({ length: 10_001 }, (_, i) => ({
        externalId: `big${i}`,
        featuresBase64: f32base64([i, 0, 0]),
      }));
      const res = await t().gql(IMPORT, { d: datasetId, items });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0].message).toContain('at most 10000');
      expect(await countItems(t(), datasetId)).toBe(2);
    });

    it('rejects a call carrying more feature values than one call may, before decoding any', async () => {
      const wide = await createDataset(t(), 'wide', 262_144);
      const items = Array.from({ length: 129 }, (_, i) => ({ externalId: `w${i}`, features: [0] }));
      const res = await t().gql(IMPORT, { d: wide, items });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0].message).toContain('fewer items per call');
      expect(await countItems(t(), wide)).toBe(0);
    });

    it('rejects an unknown split value through GraphQL validation', async () => {
      const res = await t().gql(IMPORT, {
        d: datasetId,
        items: [{ ...good('s1'), split: 'TRAIN' }],
      });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(await countItems(t(), datasetId)).toBe(2);
    });

    it('takes wide vectors as base64 (2,048 floats: longer than the general string limit)', async () => {
      const wide = await createDataset(t(), 'resnet', 2048);
      const vector = Array.from({ length: 2048 }, (_, i) => i / 2048);
      const { importItems } = await t().ok(IMPORT, {
        d: wide,
        items: [{ externalId: 'r1', featuresBase64: f32base64(vector) }],
      });
      expect(importItems.importedCount).toBe(1);
      const read = await t().ok(
        `query($d: ID!) { items(datasetId: $d, first: 1) { edges { node { featuresBase64 } } } }`,
        { d: wide },
      );
      expect(read.items.edges[0].node.featuresBase64).toBe(f32base64(vector));
    });

    it('accepts exactly 10,000 items in one call', async () => {
      const d = await createDataset(t(), 'tenk', 3);
      const items = Array.from({ length: 10_000 }, (_, i) => ({
        externalId: `k${i}`,
        featuresBase64: f32base64([i, 1, 2]),
      }));
      const { importItems } = await t().ok(IMPORT, { d, items });
      expect(importItems.importedCount).toBe(10_000);
      expect(await countItems(t(), d)).toBe(10_000);
    });
  });
});
