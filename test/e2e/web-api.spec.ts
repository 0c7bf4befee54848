import { ApiKeyRole } from '../../src/entities';
import { codeOf, describeEachDb } from '../helpers/server';
import { CLAIM, SUBMIT, openRound, queueDataset } from '../helpers/queues';

const DATASET = `query($d: ID!) { dataset(id: $d) { guidelines payloadField payloadKind } }`;
const CHANGE = `mutation($t: String!, $v: String!) {
  changeAnswer(claimToken: $t, value: $v) { value replayed query { id status answerCount } }
}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeEachDb('what the web app needs from the API', (t) => {
  describe('dataset guidelines and payload display', () => {
    it('stores guidelines and how to show the payload, and changes them', async () => {
      const { createDataset } = await t().ok(
        `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id guidelines payloadField payloadKind } }`,
        {
          i: {
            name: 'guided',
            classes: ['a', 'b'],
            featureDim: 2,
            guidelines: '# Rules\n\nPick **a** for apples.',
            payloadField: 'image',
            payloadKind: 'IMAGE_URL',
          },
        },
      );
      expect(createDataset).toMatchObject({
        guidelines: '# Rules\n\nPick **a** for apples.',
        payloadField: 'image',
        payloadKind: 'IMAGE_URL',
      });
      await t().ok(
        `mutation($d: ID!, $i: UpdateDatasetInput!) { updateDataset(id: $d, input: $i) { id } }`,
        { d: createDataset.id, i: { guidelines: 'New rules', payloadField: null } },
      );
      const { dataset } = await t().ok(DATASET, { d: createDataset.id });
      expect(dataset).toEqual({
        guidelines: 'New rules',
        payloadField: null,
        payloadKind: 'IMAGE_URL',
      });
    });

    it('gives a dataset made without them empty guidelines and the whole payload, shown AUTO', async () => {
      const d = await queueDataset(t(), 'plain', { items: 1 });
      expect((await t().ok(DATASET, { d })).dataset).toEqual({
        guidelines: '',
        payloadField: null,
        payloadKind: 'AUTO',
      });
    });

    it('refuses guidelines over the limit and changes nothing', async () => {
      const d = await queueDataset(t(), 'long-rules', { items: 1 });
      const res = await t().gql(
        `mutation($d: ID!, $i: UpdateDatasetInput!) { updateDataset(id: $d, input: $i) { id } }`,
        { d, i: { guidelines: 'x'.repeat(100_001), payloadField: 'text' } },
      );
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect((await t().ok(DATASET, { d })).dataset.payloadField).toBeNull();
    });
  });

  describe('changing the answer just given', () => {
    let d: string;
    let annotator: string;

    beforeAll(async () => {
      d = await queueDataset(t(), 'undo', { items: 12 });
      await openRound(t(), d, 6);
      annotator = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
    });

    const claimAndAnswer = async (value: string, lease = 300) => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 1, l: lease }, annotator);
      const [c] = claimQueries;
      await t().ok(SUBMIT, { q: c.query.id, v: value, t: c.token }, annotator);
      return c;
    };
    const labelOf = async (itemId: string) =>
      (
        await t().ok(
          'query($id: ID!) { item(id: $id) { label { value source } labels { nodes { value current } } } }',
          { id: itemId },
        )
      ).item;

    it("makes the new answer the item's label and keeps the first as history, spending nothing more", async () => {
      const budgetBefore = await t().ok(`query($d: ID!) { dataset(id: $d) { budget { spent } } }`, {
        d,
      });
      const c = await claimAndAnswer('cat');
      const { changeAnswer } = await t().ok(CHANGE, { t: c.token, v: 'dog' }, annotator);
      expect(changeAnswer).toMatchObject({
        value: 'dog',
        query: { status: 'ANSWERED', answerCount: 1 },
      });
      const item = await labelOf(c.query.itemId);
      expect(item.label).toEqual({ value: 'dog', source: 'HUMAN' });
      expect(item.labels.nodes.map((l: any) => [l.value, l.current])).toEqual(
        expect.arrayContaining([
          ['cat', false],
          ['dog', true],
        ]),
      );
      const [slot] = await t().sql(
        `SELECT s.class_index AS c, q.resolved_class AS r FROM query_slot s JOIN label_query q ON q.id = s.query_id WHERE q.id = $1`,
        [c.query.id],
      );
      expect(slot).toEqual({ c: 1, r: 1 });
      const budgetAfter = await t().ok(`query($d: ID!) { dataset(id: $d) { budget { spent } } }`, {
        d,
      });
      expect(budgetAfter.dataset.budget.spent).toBe(budgetBefore.dataset.budget.spent + 1);
    });

    it('refuses a change once the lease has ended (CONFLICT) and keeps the label', async () => {
      const c = await claimAndAnswer('bird', 1);
      await sleep(1200);
      const res = await t().gql(CHANGE, { t: c.token, v: 'cat' }, annotator);
      expect(codeOf(res)).toBe('CONFLICT');
      expect((await labelOf(c.query.itemId)).label.value).toBe('bird');
    });

    it('refuses an unknown class, a claim with no answer, and another key', async () => {
      const c = await claimAndAnswer('cat');
      expect(codeOf(await t().gql(CHANGE, { t: c.token, v: 'horse' }, annotator))).toBe(
        'BAD_USER_INPUT',
      );
      const other = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
      expect(codeOf(await t().gql(CHANGE, { t: c.token, v: 'dog' }, other))).toBe('FORBIDDEN');
      const { claimQueries } = await t().ok(CLAIM, { d, n: 1 }, annotator);
      expect(codeOf(await t().gql(CHANGE, { t: claimQueries[0].token, v: 'dog' }, annotator))).toBe(
        'CONFLICT',
      );
      expect((await labelOf(c.query.itemId)).label.value).toBe('cat');
    });

    it('does not hold budget for an answered claim whose lease lasts', async () => {
      const { dataset } = await t().ok(`query($d: ID!) { dataset(id: $d) { budget { held } } }`, {
        d,
      });
      // One claim above is held and unanswered; the answered ones hold nothing.
      expect(dataset.budget.held).toBe(1);
    });
  });

  describe('dashboard figures', () => {
    it('counts labels by class, answers per annotator and minute, and answered queries per round', async () => {
      const d = await queueDataset(t(), 'stats', { items: 10 });
      const round = await openRound(t(), d, 4);
      const ana = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
      const { claimQueries } = await t().ok(CLAIM, { d, n: 3 }, ana);
      for (const [i, c] of claimQueries.entries()) {
        await t().ok(SUBMIT, { q: c.query.id, v: i === 0 ? 'dog' : 'cat', t: c.token }, ana);
      }
      const { claimQueries: more } = await t().ok(CLAIM, { d, n: 1 }, ana);
      await t().ok(
        'mutation($t: String!) { skipQuery(claimToken: $t) { id } }',
        { t: more[0].token },
        ana,
      );
      const { labellingStats, round: r } = await t().ok(
        `query($d: ID!, $r: ID!) {
          labellingStats(datasetId: $d) {
            classBalance { source value count }
            annotators { annotatorId answers skips secondsPerAnswer }
            throughput { minute answers }
          }
          round(id: $r) { answeredCount size }
        }`,
        { d, r: round },
      );
      expect(labellingStats.classBalance).toEqual([
        { source: 'HUMAN', value: 'cat', count: 2 },
        { source: 'HUMAN', value: 'dog', count: 1 },
      ]);
      expect(labellingStats.annotators).toHaveLength(1);
      expect(labellingStats.annotators[0]).toMatchObject({ answers: 3, skips: 1 });
      expect(labellingStats.annotators[0].secondsPerAnswer).toBeGreaterThanOrEqual(0);
      expect(labellingStats.throughput.reduce((n: number, p: any) => n + p.answers, 0)).toBe(3);
      expect(r).toEqual({ answeredCount: 3, size: 4 });
    });
  });
});
