import { parse as parseCsv } from 'csv-parse/sync';
import { ApiKeyRole } from '../../src/entities';
import { codeOf, describeEachDb, type GqlResponse, type TestServer } from '../helpers/server';

const CLASSES = ['cat', 'dog', 'bird'];

const IMPORT = `mutation($d: ID!, $items: [ImportItemInput!]!) {
  importItems(datasetId: $d, items: $items) { itemIds }
}`;

const LABEL = `mutation($d: ID!, $labels: [LabelItemInput!]!, $source: LabelSource, $key: String) {
  labelItems(datasetId: $d, labels: $labels, source: $source, idempotencyKey: $key) {
    replayed
    labels { id itemId datasetId value classIndex source annotatorId confidence current supersededAt }
  }
}`;

const ITEM_LABELS = `query($id: ID!) { item(id: $id) {
  label { id value source current }
  labels { nodes { id value source current supersededAt } }
} }`;

const LIST = `query($d: ID!, $f: LabelFilter, $first: Int, $after: String) {
  labels(datasetId: $d, filter: $f, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id itemId value source current } }
  }
}`;

interface LabelOut {
  id: string;
  itemId: string;
  value: string;
  source: string;
  current: boolean;
  supersededAt: string | null;
  confidence: number | null;
  annotatorId: string | null;
}

interface Problem {
  index?: number;
  id?: string;
  field?: string;
  message: string;
}

async function createDataset(t: TestServer, name: string): Promise<string> {
  const { createDataset } = await t.ok(
    'mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }',
    { input: { name, classes: CLASSES, featureDim: 2 } },
  );
  return createDataset.id;
}

/** Imports one item per external id; returns their ids by external id. */
async function importItems(
  t: TestServer,
  datasetId: string,
  externalIds: string[],
  labels: Record<string, string> = {},
): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (let start = 0; start < externalIds.length; start += 10_000) {
    const batch = externalIds.slice(start, start + 10_000);
    const { importItems } = await t.ok(IMPORT, {
      d: datasetId,
      items: batch.map((externalId, i) => ({
        externalId,
        features: [start + i, 1],
        label: labels[externalId],
      })),
    });
    batch.forEach((e, i) => (ids[e] = importItems.itemIds[i]));
  }
  return ids;
}

async function label(
  t: TestServer,
  datasetId: string,
  labels: Record<string, unknown>[],
  opts: { source?: string; key?: string } = {},
): Promise<{ replayed: boolean; labels: LabelOut[] }> {
  const { labelItems } = await t.ok(LABEL, { d: datasetId, labels, ...opts });
  return labelItems;
}

async function itemLabels(
  t: TestServer,
  itemId: string,
): Promise<{ label: LabelOut | null; labels: LabelOut[] }> {
  const { item } = await t.ok(ITEM_LABELS, { id: itemId });
  return { ...item, labels: item.labels.nodes };
}

async function countLabels(t: TestServer, datasetId: string): Promise<number> {
  const [row] = await t.sql('SELECT count(*)::int AS n FROM label WHERE dataset_id = $1', [
    datasetId,
  ]);
  return row.n;
}

/** A MODEL label, written as the auto-labeller would (labelItems refuses the MODEL source). */
async function insertModelLabel(
  t: TestServer,
  datasetId: string,
  itemId: string,
  value: string,
): Promise<void> {
  await t.sql(
    `INSERT INTO label (dataset_id, item_id, class_index, source, confidence) VALUES ($1, $2, $3, 'MODEL', 0.5)`,
    [datasetId, itemId, CLASSES.indexOf(value)],
  );
}

function problemsOf(res: GqlResponse): Problem[] {
  return (res.errors?.[0]?.extensions?.problems ?? []) as Problem[];
}

describeEachDb('labels', (t) => {
  describe('writing labels', () => {
    let d: string;
    let ids: Record<string, string>;

    beforeAll(async () => {
      d = await createDataset(t(), 'writing');
      ids = await importItems(t(), d, ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8', 'w9'], {
        w8: 'bird',
      });
    });

    it('labels items named by item id and by external id, and gives each item its label', async () => {
      const result = await label(t(), d, [
        { itemId: ids.w1, value: 'dog', annotatorId: 'ann', confidence: 0.9 },
        { externalId: 'w2', value: 'bird' },
      ]);

      expect(result.replayed).toBe(false);
      expect(result.labels).toEqual([
        expect.objectContaining({
          itemId: ids.w1,
          datasetId: d,
          value: 'dog',
          classIndex: 1,
          source: 'HUMAN',
          annotatorId: 'ann',
          confidence: 0.9,
          current: true,
          supersededAt: null,
        }),
        expect.objectContaining({
          itemId: ids.w2,
          value: 'bird',
          classIndex: 2,
          source: 'HUMAN',
          annotatorId: null,
          confidence: null,
          current: true,
        }),
      ]);
      expect((await itemLabels(t(), ids.w1)).label).toEqual({
        id: result.labels[0].id,
        value: 'dog',
        source: 'HUMAN',
        current: true,
      });
      expect((await itemLabels(t(), ids.w2)).label?.value).toBe('bird');
      const rows = await t().sql(
        'SELECT item_id AS "itemId", class_index AS "classIndex", source FROM label WHERE dataset_id = $1 ORDER BY id',
        [d],
      );
      expect(rows).toEqual([
        { itemId: ids.w8, classIndex: 2, source: 'IMPORT' },
        { itemId: ids.w1, classIndex: 1, source: 'HUMAN' },
        { itemId: ids.w2, classIndex: 2, source: 'HUMAN' },
      ]);
    });

    it('supersedes the label of the same source, keeping the old one as history, newest first', async () => {
      const first = await label(t(), d, [{ externalId: 'w3', value: 'cat' }]);
      const second = await label(t(), d, [{ externalId: 'w3', value: 'dog' }]);

      const { label: resolved, labels: history } = await itemLabels(t(), ids.w3);
      expect(resolved).toEqual({
        id: second.labels[0].id,
        value: 'dog',
        source: 'HUMAN',
        current: true,
      });
      expect(history.map((l) => [l.id, l.value, l.current])).toEqual([
        [second.labels[0].id, 'dog', true],
        [first.labels[0].id, 'cat', false],
      ]);
      expect(history[0].supersededAt).toBeNull();
      expect(history[1].supersededAt).not.toBeNull();
      const rows = await t().sql(
        'SELECT id, superseded_at IS NOT NULL AS superseded FROM label WHERE item_id = $1 ORDER BY id',
        [ids.w3],
      );
      expect(rows).toEqual([
        { id: first.labels[0].id, superseded: true },
        { id: second.labels[0].id, superseded: false },
      ]);
    });

    it('keeps a label of another source current, and resolves HUMAN over IMPORT over MODEL', async () => {
      // w4: HUMAN first, then IMPORT and MODEL: HUMAN still wins.
      await label(t(), d, [{ externalId: 'w4', value: 'cat' }]);
      await label(t(), d, [{ externalId: 'w4', value: 'dog' }], { source: 'IMPORT' });
      await insertModelLabel(t(), d, ids.w4, 'bird');
      // w5: MODEL, then IMPORT: IMPORT wins. w6: MODEL only.
      await insertModelLabel(t(), d, ids.w5, 'bird');
      await label(t(), d, [{ externalId: 'w5', value: 'dog' }], { source: 'IMPORT' });
      await insertModelLabel(t(), d, ids.w6, 'bird');
      // w8 arrived labelled bird by its import; a HUMAN label overrides it.
      await label(t(), d, [{ externalId: 'w8', value: 'cat' }]);

      const w4 = await itemLabels(t(), ids.w4);
      expect(w4.label).toMatchObject({ value: 'cat', source: 'HUMAN' });
      expect(w4.labels.map((l) => [l.source, l.value, l.current])).toEqual([
        ['MODEL', 'bird', true],
        ['IMPORT', 'dog', true],
        ['HUMAN', 'cat', true],
      ]);
      expect((await itemLabels(t(), ids.w5)).label).toMatchObject({
        value: 'dog',
        source: 'IMPORT',
      });
      expect((await itemLabels(t(), ids.w6)).label).toMatchObject({
        value: 'bird',
        source: 'MODEL',
      });
      const w8 = await itemLabels(t(), ids.w8);
      expect(w8.label).toMatchObject({ value: 'cat', source: 'HUMAN' });
      expect(w8.labels.map((l) => [l.source, l.value, l.current])).toEqual([
        ['HUMAN', 'cat', true],
        ['IMPORT', 'bird', true],
      ]);
    });

    it('gives an item without labels no label and an empty history', async () => {
      expect(await itemLabels(t(), ids.w9)).toEqual({ label: null, labels: [] });
    });

    it('refuses the MODEL source and writes nothing', async () => {
      const before = await countLabels(t(), d);
      const res = await t().gql(LABEL, {
        d,
        labels: [{ externalId: 'w9', value: 'cat' }],
        source: 'MODEL',
      });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0].message).toContain('MODEL');
      expect(await countLabels(t(), d)).toBe(before);
    });

    it('refuses a key without the right to write labels with FORBIDDEN', async () => {
      const annotator = await t().createKey(ApiKeyRole.ANNOTATOR);
      const before = await countLabels(t(), d);
      const res = await t().gql(
        LABEL,
        { d, labels: [{ externalId: 'w9', value: 'cat' }] },
        annotator,
      );
      expect(codeOf(res)).toBe('FORBIDDEN');
      expect(await countLabels(t(), d)).toBe(before);
    });
  });

  describe('idempotent retries', () => {
    let d: string;
    let other: string;

    beforeAll(async () => {
      d = await createDataset(t(), 'idempotency');
      await importItems(
        t(),
        d,
        Array.from({ length: 12 }, (_, i) => `i${i}`),
      );
      other = await createDataset(t(), 'idempotency-other');
      await importItems(t(), other, ['i0']);
    });

    it('answers a retry with the same key with the same labels, replayed, and writes once', async () => {
      const labels = [
        { externalId: 'i0', value: 'cat' },
        { externalId: 'i1', value: 'dog', confidence: 0.5 },
      ];
      const first = await label(t(), d, labels, { key: 'retry-1' });
      const again = await label(t(), d, labels, { key: 'retry-1' });

      expect(first.replayed).toBe(false);
      expect(again.replayed).toBe(true);
      expect(again.labels.map((l) => l.id)).toEqual(first.labels.map((l) => l.id));
      expect(again.labels.map((l) => l.value)).toEqual(['cat', 'dog']);
      expect(await countLabels(t(), d)).toBe(2);
    });

    it('refuses the same key with a different request with CONFLICT and writes nothing', async () => {
      await label(t(), d, [{ externalId: 'i2', value: 'cat' }], { key: 'retry-2' });
      const before = await countLabels(t(), d);

      for (const changed of [
        { labels: [{ externalId: 'i2', value: 'dog' }] },
        { labels: [{ externalId: 'i3', value: 'cat' }] },
        { labels: [{ externalId: 'i2', value: 'cat' }], source: 'IMPORT' },
      ]) {
        const res = await t().gql(LABEL, { d, key: 'retry-2', ...changed });
        expect(codeOf(res)).toBe('CONFLICT');
        expect(res.errors![0].message).toContain('retry-2');
      }
      expect(await countLabels(t(), d)).toBe(before);
      const current = await t().sql(
        `SELECT i.external_id AS e, l.class_index AS c, l.source FROM label l JOIN item i ON i.id = l.item_id
         WHERE l.dataset_id = $1 AND i.external_id IN ('i2', 'i3') ORDER BY 1`,
        [d],
      );
      expect(current).toEqual([{ e: 'i2', c: 0, source: 'HUMAN' }]);
    });

    it('writes once when five identical calls with one key arrive together', async () => {
      const labels = [
        { externalId: 'i4', value: 'bird' },
        { externalId: 'i5', value: 'cat' },
      ];
      const before = await countLabels(t(), d);

      const results = await Promise.all(
        Array.from({ length: 5 }, () => t().gql(LABEL, { d, labels, key: 'together' })),
      );

      expect(results.map((r) => r.errors)).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
      const answers = results.map((r) => r.data.labelItems);
      expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
      const labelIds = answers[0].labels.map((l: LabelOut) => l.id);
      for (const a of answers) expect(a.labels.map((l: LabelOut) => l.id)).toEqual(labelIds);
      expect(await countLabels(t(), d)).toBe(before + 2);
    });

    it('writes once when five identical calls relabelling labelled items arrive together', async () => {
      await label(t(), d, [
        { externalId: 'i6', value: 'cat' },
        { externalId: 'i7', value: 'cat' },
      ]);
      const before = await countLabels(t(), d);
      const labels = [
        { externalId: 'i6', value: 'dog' },
        { externalId: 'i7', value: 'bird' },
      ];

      const results = await Promise.all(
        Array.from({ length: 5 }, () => t().gql(LABEL, { d, labels, key: 'relabel-together' })),
      );

      expect(results.map((r) => r.errors)).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
      expect(results.filter((r) => !r.data.labelItems.replayed)).toHaveLength(1);
      expect(await countLabels(t(), d)).toBe(before + 2);
      const rows = await t().sql(
        `SELECT i.external_id AS e, l.class_index AS c FROM label l JOIN item i ON i.id = l.item_id
         WHERE l.dataset_id = $1 AND i.external_id IN ('i6', 'i7') AND l.superseded_at IS NULL ORDER BY 1`,
        [d],
      );
      expect(rows).toEqual([
        { e: 'i6', c: 1 },
        { e: 'i7', c: 2 },
      ]);
    });

    it('lets annotators label one item at the same time, each later label superseding the one before', async () => {
      const results = await Promise.all(
        ['cat', 'dog', 'bird', 'cat'].map((value, n) =>
          t().gql(LABEL, { d, labels: [{ externalId: 'i8', value, annotatorId: `a${n}` }] }),
        ),
      );

      expect(results.map((r) => codeOf(r))).toEqual([undefined, undefined, undefined, undefined]);
      const rows = await t().sql(
        `SELECT l.id, l.superseded_at IS NULL AS current FROM label l JOIN item i ON i.id = l.item_id
         WHERE i.dataset_id = $1 AND i.external_id = 'i8' ORDER BY l.id`,
        [d],
      );
      expect(rows.map((r) => r.current)).toEqual([false, false, false, true]);
      const written = results.map((r) => r.data.labelItems.labels[0].id).sort();
      expect(rows.map((r) => r.id).sort()).toEqual(written);
    });

    it('writes only one of several different calls sent at the same time with one key', async () => {
      const results = await Promise.all(
        ['cat', 'dog', 'bird'].map((value) =>
          t().gql(LABEL, { d, labels: [{ externalId: 'i11', value }], key: 'contested' }),
        ),
      );

      const winners = results.filter((r) => !r.errors);
      expect(winners).toHaveLength(1);
      expect(winners[0].data.labelItems.replayed).toBe(false);
      expect(results.filter((r) => codeOf(r) === 'CONFLICT')).toHaveLength(2);
      const rows = await t().sql(
        `SELECT l.id FROM label l JOIN item i ON i.id = l.item_id
         WHERE i.dataset_id = $1 AND i.external_id = 'i11'`,
        [d],
      );
      expect(rows.map((r) => r.id)).toEqual([winners[0].data.labelItems.labels[0].id]);
    });

    it('keeps keys of different datasets apart', async () => {
      await label(t(), d, [{ externalId: 'i9', value: 'cat' }], { key: 'shared' });
      const there = await label(t(), other, [{ externalId: 'i0', value: 'dog' }], {
        key: 'shared',
      });
      expect(there.replayed).toBe(false);
      expect(await countLabels(t(), other)).toBe(1);
    });

    it('writes after a failed call when retried with the same key, the failure having stored nothing', async () => {
      const bad = await t().gql(LABEL, {
        d,
        labels: [{ externalId: 'i10', value: 'zebra' }],
        key: 'after-failure',
      });
      expect(codeOf(bad)).toBe('BAD_USER_INPUT');
      const good = await label(t(), d, [{ externalId: 'i10', value: 'dog' }], {
        key: 'after-failure',
      });
      expect(good.replayed).toBe(false);
      expect(good.labels.map((l) => l.value)).toEqual(['dog']);
    });
  });

  describe('rejected calls', () => {
    let d: string;
    let ids: Record<string, string>;
    let foreignItemId: string;

    beforeAll(async () => {
      d = await createDataset(t(), 'rejections');
      ids = await importItems(t(), d, ['r0', 'r1', 'r2']);
      const other = await createDataset(t(), 'rejections-other');
      foreignItemId = (await importItems(t(), other, ['f0'])).f0;
    });

    // Each case: what is wrong, the second entry (the first is always fine), its id in the
    // problem, a word of the message.
    // Each case: what is wrong, the second entry (the first is always fine) and the id its
    // problem names, a word of the message.
    const cases: [string, () => [Record<string, unknown>, string | undefined], string][] = [
      ['an unknown item id', () => [{ itemId: '999999999', value: 'cat' }, '999999999'], 'no item'],
      [
        'an item id that is not a number',
        () => [{ itemId: 'abc', value: 'cat' }, 'abc'],
        'no item',
      ],
      ['an empty item id', () => [{ itemId: '', value: 'cat' }, ''], 'itemId'],
      [
        'an item of another dataset',
        () => [{ itemId: foreignItemId, value: 'cat' }, foreignItemId],
        'no item',
      ],
      ['an unknown external id', () => [{ externalId: 'nope', value: 'cat' }, 'nope'], 'no item'],
      ['an empty external id', () => [{ externalId: '', value: 'cat' }, ''], 'externalId'],
      ['an unknown class', () => [{ externalId: 'r1', value: 'zebra' }, 'r1'], 'not a class'],
      [
        'both an item id and an external id',
        () => [{ itemId: ids.r1, externalId: 'r1', value: 'cat' }, ids.r1],
        'exactly one',
      ],
      ['neither an item id nor an external id', () => [{ value: 'cat' }, undefined], 'exactly one'],
      [
        'the same item twice',
        () => [{ itemId: ids.r0, value: 'dog' }, ids.r0],
        'same item as entry #0',
      ],
      [
        'a confidence above 1',
        () => [{ externalId: 'r1', value: 'cat', confidence: 1.5 }, 'r1'],
        'between 0 and 1',
      ],
      [
        'a negative confidence',
        () => [{ externalId: 'r1', value: 'cat', confidence: -0.01 }, 'r1'],
        'between 0 and 1',
      ],
      [
        'an annotator id over 200 characters',
        () => [{ externalId: 'r1', value: 'cat', annotatorId: 'x'.repeat(201) }, 'r1'],
        'annotatorId',
      ],
    ];

    it.each(cases)(
      'rejects %s as a whole, names the entry, and writes nothing',
      async (_what, entryAndOffender, text) => {
        const [entry, offender] = entryAndOffender();
        const res = await t().gql(LABEL, {
          d,
          labels: [{ externalId: 'r0', value: 'cat' }, entry],
        });

        expect(codeOf(res)).toBe('BAD_USER_INPUT');
        expect(res.errors![0].message).toContain('nothing was written');
        expect(res.errors![0].message).toContain(text);
        const problems = problemsOf(res);
        expect(problems.map((p) => p.index)).toEqual(problems.map(() => 1));
        expect(problems[0].id).toBe(offender);
        expect(await countLabels(t(), d)).toBe(0);
      },
    );

    it('names every bad entry of a call, not only the first', async () => {
      const res = await t().gql(LABEL, {
        d,
        labels: [
          { externalId: 'nope-1', value: 'cat' },
          { externalId: 'r0', value: 'cat' },
          { externalId: 'nope-2', value: 'zebra' },
        ],
      });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      const problems = problemsOf(res);
      expect(problems.map((p) => [p.index, p.id])).toEqual(
        expect.arrayContaining([
          [0, 'nope-1'],
          [2, 'nope-2'],
        ]),
      );
      expect(problems.some((p) => p.index === 1)).toBe(false);
      expect(res.errors![0].extensions!.problemCount).toBe(problems.length);
      expect(await countLabels(t(), d)).toBe(0);
    });

    it('accepts an empty list and writes nothing', async () => {
      const result = await label(t(), d, []);
      expect(result).toEqual({ replayed: false, labels: [] });
      expect(await countLabels(t(), d)).toBe(0);
    });
  });

  describe('the limit of 10,000 labels a call', () => {
    let d: string;
    const externalIds = Array.from({ length: 10_000 }, (_, i) => `b${i}`);

    beforeAll(async () => {
      d = await createDataset(t(), 'ten-thousand');
      await importItems(t(), d, externalIds);
    }, 60_000);

    it('accepts exactly 10,000 labels in one call', async () => {
      const result = await label(
        t(),
        d,
        externalIds.map((externalId, i) => ({ externalId, value: CLASSES[i % 3] })),
        { source: 'IMPORT' },
      );
      expect(result.labels).toHaveLength(10_000);
      expect(result.labels[9_999].value).toBe(CLASSES[9_999 % 3]);
      expect(await countLabels(t(), d)).toBe(10_000);
    });

    it('rejects 10,001 labels in one call and writes nothing', async () => {
      const labels = externalIds.map((externalId) => ({ externalId, value: 'dog' }));
      labels.push({ externalId: 'b0', value: 'dog' });
      const res = await t().gql(LABEL, { d, labels });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0].message).toContain('at most 10000');
      expect(await countLabels(t(), d)).toBe(10_000);
      const [{ n }] = await t().sql(
        'SELECT count(*)::int AS n FROM label WHERE dataset_id = $1 AND superseded_at IS NOT NULL',
        [d],
      );
      expect(n).toBe(0);
    });

    it('exports every labelled item, across the export batches', async () => {
      const res = await fetch(exportUrl(t(), d, 'jsonl'), { headers: bearer(t().adminKey) });
      expect(res.status).toBe(200);
      const rows = jsonl(await res.text());
      expect(rows).toHaveLength(10_000);
      expect(new Set(rows.map((r) => r.externalId)).size).toBe(10_000);
      expect(rows[4].label).toBe(CLASSES[4 % 3]);
    });
  });

  describe('listing labels', () => {
    let d: string;
    let ids: Record<string, string>;
    let written: LabelOut[][];

    beforeAll(async () => {
      d = await createDataset(t(), 'listing');
      ids = await importItems(t(), d, ['l0', 'l1', 'l2', 'l3', 'l4', 'l5']);
      written = [
        (
          await label(t(), d, [
            { externalId: 'l0', value: 'cat' },
            { externalId: 'l1', value: 'cat' },
            { externalId: 'l2', value: 'cat' },
            { externalId: 'l3', value: 'cat' },
          ])
        ).labels,
        (
          await label(t(), d, [
            { externalId: 'l0', value: 'dog' },
            { externalId: 'l1', value: 'bird' },
          ])
        ).labels,
        (
          await label(
            t(),
            d,
            [
              { externalId: 'l2', value: 'dog' },
              { externalId: 'l4', value: 'bird' },
            ],
            { source: 'IMPORT' },
          )
        ).labels,
      ];
    });

    async function listAll(
      filter: Record<string, unknown> | undefined,
      first: number,
    ): Promise<{ ids: string[]; totalCount: number; pages: number }> {
      const out: string[] = [];
      let after: string | null = null;
      let pages = 0;
      let totalCount = -1;
      for (;;) {
        const { labels }: any = await t().ok(LIST, { d, f: filter, first, after });
        pages++;
        totalCount = labels.totalCount;
        expect(labels.pageInfo.hasPreviousPage).toBe(after !== null);
        out.push(...labels.edges.map((e: { node: LabelOut }) => e.node.id));
        if (!labels.pageInfo.hasNextPage) break;
        after = labels.pageInfo.endCursor;
      }
      return { ids: out, totalCount, pages };
    }

    it('lists the current labels in the order they were written, two a page, with the total', async () => {
      const [w1, w2, w3] = written;
      const listed = await listAll(undefined, 2);
      expect(listed.ids).toEqual([w1[2].id, w1[3].id, w2[0].id, w2[1].id, w3[0].id, w3[1].id]);
      expect(listed.totalCount).toBe(6);
      expect(listed.pages).toBe(3);
    });

    it('includes superseded labels with current: false', async () => {
      const listed = await listAll({ current: false }, 3);
      expect(listed.ids).toEqual(written.flat().map((l) => l.id));
      expect(listed.totalCount).toBe(8);
      const { labels } = await t().ok(LIST, { d, f: { current: false }, first: 2 });
      expect(labels.edges.map((e: { node: LabelOut }) => [e.node.value, e.node.current])).toEqual([
        ['cat', false],
        ['cat', false],
      ]);
    });

    it('filters by source', async () => {
      const imports = await listAll({ source: 'IMPORT' }, 10);
      expect(imports.ids).toEqual(written[2].map((l) => l.id));
      expect(imports.totalCount).toBe(2);
      const humans = await listAll({ source: 'HUMAN', current: false }, 10);
      expect(humans.totalCount).toBe(6);
    });

    it('filters by item ids, ignoring ids that name nothing', async () => {
      const { labels } = await t().ok(LIST, {
        d,
        f: { itemIds: [ids.l0, ids.l2, 'junk'], current: false },
      });
      expect(labels.totalCount).toBe(4);
      expect(
        labels.edges.map((e: { node: LabelOut }) => [e.node.itemId, e.node.value, e.node.source]),
      ).toEqual([
        [ids.l0, 'cat', 'HUMAN'],
        [ids.l2, 'cat', 'HUMAN'],
        [ids.l0, 'dog', 'HUMAN'],
        [ids.l2, 'dog', 'IMPORT'],
      ]);
    });

    it('refuses a cursor that is not one of its own with BAD_USER_INPUT', async () => {
      const res = await t().gql(LIST, { d, after: 'not-a-cursor' });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
    });
  });

  describe('exporting labels', () => {
    let d: string;
    let ids: Record<string, string>;

    beforeAll(async () => {
      d = await createDataset(t(), 'export');
      ids = await importItems(t(), d, ['x0', 'x1', 'x2', 'x3', 'x4'], { x1: 'bird' });
      await label(t(), d, [
        { externalId: 'x0', value: 'cat', annotatorId: 'ann', confidence: 0.75 },
        { externalId: 'x1', value: 'dog', annotatorId: 'ann, the "second"' },
      ]);
      await label(t(), d, [{ externalId: 'x0', value: 'bird' }]);
      await insertModelLabel(t(), d, ids.x3, 'dog');
      await insertModelLabel(t(), d, ids.x1, 'cat');
    });

    it('gives one JSON line per labelled item with its current label', async () => {
      const res = await fetch(exportUrl(t(), d, 'jsonl'), { headers: bearer(t().adminKey) });

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/x-ndjson');
      const rows = jsonl(await res.text());
      expect(rows.map((r) => [r.itemId, r.externalId, r.label, r.source])).toEqual([
        [ids.x0, 'x0', 'bird', 'HUMAN'],
        [ids.x1, 'x1', 'dog', 'HUMAN'],
        [ids.x3, 'x3', 'dog', 'MODEL'],
      ]);
      expect(rows[0]).toMatchObject({
        confidence: null,
        annotatorId: null,
        modelId: null,
        split: 'POOL',
        origin: 'IMPORTED',
      });
      expect(rows[1].annotatorId).toBe('ann, the "second"');
      expect(new Date(rows[0].createdAt as string).getTime()).not.toBeNaN();
    });

    it('gives the same rows as CSV with a header', async () => {
      const res = await fetch(exportUrl(t(), d, 'csv'), { headers: bearer(t().adminKey) });

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/csv');
      const [header, ...rows] = parseCsv(await res.text()) as string[][];
      expect(header).toEqual([
        'itemId',
        'externalId',
        'label',
        'source',
        'confidence',
        'annotatorId',
        'modelId',
        'split',
        'origin',
        'createdAt',
      ]);
      expect(rows.map((r) => r.slice(0, 6))).toEqual([
        [ids.x0, 'x0', 'bird', 'HUMAN', '', ''],
        [ids.x1, 'x1', 'dog', 'HUMAN', '', 'ann, the "second"'],
        [ids.x3, 'x3', 'dog', 'MODEL', '0.5', ''],
      ]);
    });

    it('gives only the header for a dataset without labels', async () => {
      const empty = await createDataset(t(), 'export-empty');
      await importItems(t(), empty, ['e0']);
      const res = await fetch(exportUrl(t(), empty, 'csv'), { headers: bearer(t().adminKey) });
      expect(res.status).toBe(200);
      expect((await res.text()).trim().split('\n')).toHaveLength(1);
    });

    it('refuses an unknown format with 400 BAD_USER_INPUT', async () => {
      const res = await fetch(exportUrl(t(), d, 'xml'), { headers: bearer(t().adminKey) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as GqlResponse).errors![0].extensions!.code).toBe(
        'BAD_USER_INPUT',
      );
    });

    it('refuses a request without a key with 401 UNAUTHENTICATED', async () => {
      const res = await fetch(exportUrl(t(), d, 'jsonl'));
      expect(res.status).toBe(401);
      expect(((await res.json()) as GqlResponse).errors![0].extensions!.code).toBe(
        'UNAUTHENTICATED',
      );
      const wrong = await fetch(exportUrl(t(), d, 'jsonl'), { headers: bearer('qk_wrong') });
      expect(wrong.status).toBe(401);
      const badFormatNoKey = await fetch(exportUrl(t(), d, 'xml'));
      expect(badFormatNoKey.status).toBe(401);
    });

    it('refuses a key that may not read labels with 403, and an unknown dataset with 404', async () => {
      const annotator = await t().createKey(ApiKeyRole.ANNOTATOR);
      const forbidden = await fetch(exportUrl(t(), d, 'jsonl'), { headers: bearer(annotator) });
      expect(forbidden.status).toBe(403);
      const missing = await fetch(exportUrl(t(), '00000000-0000-4000-8000-000000000000', 'jsonl'), {
        headers: bearer(t().adminKey),
      });
      expect(missing.status).toBe(404);
    });
  });
});

function exportUrl(t: TestServer, datasetId: string, format: string): string {
  const base = t.url.replace(/\/graphql$/, '');
  return `${base}/export/labels?datasetId=${encodeURIComponent(datasetId)}&format=${format}`;
}

function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

function jsonl(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
