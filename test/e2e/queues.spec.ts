import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import { ApiKeyRole } from '../../src/entities';
import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { CLAIM, SUBMIT, openRound, queueDataset } from '../helpers/queues';
import { testModel } from '../helpers/models';
import { waitFor } from '../helpers/wait-for';

const QUEUE = `query($d: ID!, $first: Int, $after: String) {
  labelQueue(datasetId: $d, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id rank roundId itemId status score reason answersNeeded answerCount heldCount } }
  }
}`;

const BUDGET = `query($d: ID!) { dataset(id: $d) { budget { total spent held owed remaining } } }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function queueIds(t: TestServer, d: string, key?: string): Promise<string[]> {
  const { labelQueue } = await t.ok(QUEUE, { d, first: 1000 }, key);
  return labelQueue.edges.map((e: any) => e.node.id);
}

async function itemLabel(t: TestServer, itemId: string) {
  const { item } = await t.ok(
    'query($id: ID!) { item(id: $id) { label { value source annotatorId confidence } labels { nodes { value } } } }',
    { id: itemId },
  );
  return item;
}

describeEachDb('label queues', (t) => {
  let annotatorA: string;
  let annotatorB: string;

  describe('order and pagination', () => {
    let d: string;
    let older: string;
    let newer: string;

    beforeAll(async () => {
      d = await queueDataset(t(), 'order', { items: 30 });
      older = await openRound(t(), d, 5);
      newer = await openRound(t(), d, 4);
    });

    it('lists the newest open round first, then by rank', async () => {
      const { labelQueue } = await t().ok(QUEUE, { d, first: 100 });
      const nodes = labelQueue.edges.map((e: any) => e.node);
      expect(labelQueue.totalCount).toBe(9);
      expect(nodes.map((n: any) => [n.roundId, n.rank])).toEqual([
        [newer, 1],
        [newer, 2],
        [newer, 3],
        [newer, 4],
        [older, 1],
        [older, 2],
        [older, 3],
        [older, 4],
        [older, 5],
      ]);
      expect(nodes[0]).toMatchObject({ status: 'OPEN', answersNeeded: 1, answerCount: 0 });
    });

    it('pages with cursors through the same order, without gaps or repeats', async () => {
      const all = await queueIds(t(), d);
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const { labelQueue }: any = await t().ok(QUEUE, { d, first: 2, after });
        seen.push(...labelQueue.edges.map((e: any) => e.node.id));
        if (!labelQueue.pageInfo.hasNextPage) break;
        after = labelQueue.pageInfo.endCursor;
      }
      expect(seen).toEqual(all);
    });

    it('refuses a cursor that is not one of the queue', async () => {
      const res = await t().gql(QUEUE, { d, first: 2, after: 'bm90LWEtY3Vyc29y' });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
    });

    it('hands claims out in queue order', async () => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 3 });
      expect(claimQueries.map((c: any) => [c.query.roundId, c.query.rank])).toEqual([
        [newer, 1],
        [newer, 2],
        [newer, 3],
      ]);
      for (const c of claimQueries) {
        await t().ok('mutation($t: String!) { releaseQuery(claimToken: $t) { id } }', {
          t: c.token,
        });
      }
    });
  });

  describe('claim, submit, skip, release', () => {
    let d: string;

    beforeAll(async () => {
      d = await queueDataset(t(), 'basic', { items: 40 });
      await openRound(t(), d, 12);
      annotatorA = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
      annotatorB = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
    });

    it('claims, then submits a label that becomes the item’s HUMAN label', async () => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 2 }, annotatorA);
      expect(claimQueries).toHaveLength(2);
      const [c] = claimQueries;
      expect(new Date(c.expiresAt).getTime()).toBeGreaterThan(Date.now() + 250_000);
      const { submitLabel } = await t().ok(
        SUBMIT,
        { q: c.query.id, v: 'dog', t: c.token },
        annotatorA,
      );
      expect(submitLabel).toMatchObject({
        value: 'dog',
        replayed: false,
        query: { id: c.query.id, status: 'ANSWERED', answerCount: 1 },
      });
      const item = await itemLabel(t(), c.query.itemId);
      expect(item.label).toMatchObject({ value: 'dog', source: 'HUMAN' });
      expect(await queueIds(t(), d)).not.toContain(c.query.id);
      // The other claim is still held, so B cannot get it.
      const held = claimQueries[1].query.id;
      const { claimQueries: forB } = await t().ok(CLAIM, { d, n: 100 }, annotatorB);
      expect(forB.map((x: any) => x.query.id)).not.toContain(held);
      for (const x of forB) {
        await t().ok(
          'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }',
          { t: x.token },
          annotatorB,
        );
      }
      await t().ok(
        'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }',
        { t: claimQueries[1].token },
        annotatorA,
      );
    });

    it('a wrong class is BAD_USER_INPUT and changes nothing; the claim still works', async () => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 1 }, annotatorA);
      const [c] = claimQueries;
      const bad = await t().gql(SUBMIT, { q: c.query.id, v: 'horse', t: c.token }, annotatorA);
      expect(codeOf(bad)).toBe('BAD_USER_INPUT');
      expect((await itemLabel(t(), c.query.itemId)).label).toBeNull();
      await t().ok(SUBMIT, { q: c.query.id, v: 'cat', t: c.token }, annotatorA);
    });

    it('retrying a submit with the same idempotency key gives the same result and one label', async () => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 1 }, annotatorA);
      const [c] = claimQueries;
      const vars = { q: c.query.id, v: 'bird', t: c.token, k: `submit-${c.query.id}` };
      const first = await t().ok(SUBMIT, vars, annotatorA);
      const again = await t().ok(SUBMIT, vars, annotatorA);
      expect(first.submitLabel.replayed).toBe(false);
      expect(again.submitLabel).toMatchObject({ replayed: true, value: 'bird' });
      expect(again.submitLabel.query.status).toBe('ANSWERED');
      const rows = await t().sql(
        `SELECT count(*)::int AS n FROM label WHERE item_id = $1 AND source = 'HUMAN'`,
        [c.query.itemId],
      );
      expect(rows[0].n).toBe(1);
      // Without the key, a second submit of an answered claim is a CONFLICT.
      const twice = await t().gql(SUBMIT, { q: c.query.id, v: 'bird', t: c.token }, annotatorA);
      expect(codeOf(twice)).toBe('CONFLICT');
      // The same key for a different request is a CONFLICT too.
      const other = await t().gql(SUBMIT, { ...vars, v: 'cat' }, annotatorA);
      expect(codeOf(other)).toBe('CONFLICT');
    });

    it('someone else’s claim is FORBIDDEN and writes nothing', async () => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 1 }, annotatorA);
      const [c] = claimQueries;
      const res = await t().gql(SUBMIT, { q: c.query.id, v: 'cat', t: c.token }, annotatorB);
      expect(codeOf(res)).toBe('FORBIDDEN');
      for (const m of [
        'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }',
        'mutation($t: String!) { skipQuery(claimToken: $t) { id } }',
        'mutation($t: String!) { renewLease(claimToken: $t) { token } }',
      ]) {
        expect(codeOf(await t().gql(m, { t: c.token }, annotatorB))).toBe('FORBIDDEN');
      }
      expect((await itemLabel(t(), c.query.itemId)).label).toBeNull();
      await t().ok(
        'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }',
        { t: c.token },
        annotatorA,
      );
    });

    it('a token for another query is BAD_USER_INPUT; an unknown token is a CONFLICT', async () => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 2 }, annotatorA);
      const [a, b] = claimQueries;
      const crossed = await t().gql(SUBMIT, { q: b.query.id, v: 'cat', t: a.token }, annotatorA);
      expect(codeOf(crossed)).toBe('BAD_USER_INPUT');
      const unknown = await t().gql(
        SUBMIT,
        { q: a.query.id, v: 'cat', t: '00000000-0000-4000-8000-000000000000' },
        annotatorA,
      );
      expect(codeOf(unknown)).toBe('CONFLICT');
      for (const c of claimQueries) {
        await t().ok(
          'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }',
          { t: c.token },
          annotatorA,
        );
      }
    });

    it('skip: back in the queue for others, never offered to the skipper again, reason kept', async () => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 1 }, annotatorA);
      const [c] = claimQueries;
      const { skipQuery } = await t().ok(
        'mutation($t: String!, $r: String) { skipQuery(claimToken: $t, reason: $r) { id status heldCount } }',
        { t: c.token, r: 'blurry' },
        annotatorA,
      );
      expect(skipQuery).toMatchObject({ id: c.query.id, status: 'OPEN', heldCount: 0 });
      expect(await queueIds(t(), d)).toContain(c.query.id);
      const { claimQueries: again } = await t().ok(CLAIM, { d, n: 100 }, annotatorA);
      expect(again.map((x: any) => x.query.id)).not.toContain(c.query.id);
      const { claimQueries: forB } = await t().ok(CLAIM, { d, n: 100 }, annotatorB);
      expect(forB.map((x: any) => x.query.id)).toContain(c.query.id);
      const [skip] = await t().sql(
        'SELECT reason, annotator_id FROM query_skip WHERE query_id = $1',
        [c.query.id],
      );
      expect(skip.reason).toBe('blurry');
      for (const [key, list] of [
        [annotatorA, again],
        [annotatorB, forB],
      ] as const) {
        for (const x of list) {
          await t().ok(
            'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }',
            { t: x.token },
            key,
          );
        }
      }
      // The stale token of the skipped claim is a CONFLICT.
      const stale = await t().gql(SUBMIT, { q: c.query.id, v: 'cat', t: c.token }, annotatorA);
      expect(codeOf(stale)).toBe('CONFLICT');
    });

    it('release hands the query back at once', async () => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 1 }, annotatorA);
      const [c] = claimQueries;
      const { claimQueries: none } = await t().ok(CLAIM, { d, n: 100 }, annotatorB);
      expect(none.map((x: any) => x.query.id)).not.toContain(c.query.id);
      for (const x of none) {
        await t().ok(
          'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }',
          { t: x.token },
          annotatorB,
        );
      }
      await t().ok(
        'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }',
        { t: c.token },
        annotatorA,
      );
      const { claimQueries: now } = await t().ok(CLAIM, { d, n: 100 }, annotatorB);
      expect(now.map((x: any) => x.query.id)).toContain(c.query.id);
      for (const x of now) {
        await t().ok(
          'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }',
          { t: x.token },
          annotatorB,
        );
      }
    });

    it('an expired lease returns the query with no sweeper; the stale token then gets CONFLICT', async () => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 1, l: 1 }, annotatorA);
      const [c] = claimQueries;
      await sleep(1300);
      const { claimQueries: all } = await t().ok(CLAIM, { d, n: 100 }, annotatorB);
      const forB = all.filter((x: any) => x.query.id === c.query.id);
      expect(forB).toHaveLength(1);
      for (const x of all) {
        if (x.query.id === c.query.id) continue;
        await t().ok(
          'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }',
          { t: x.token },
          annotatorB,
        );
      }
      const stale = await t().gql(SUBMIT, { q: c.query.id, v: 'cat', t: c.token }, annotatorA);
      expect(codeOf(stale)).toBe('CONFLICT');
      expect((await itemLabel(t(), c.query.itemId)).label).toBeNull();
      const renewStale = await t().gql(
        'mutation($t: String!) { renewLease(claimToken: $t) { token } }',
        { t: c.token },
        annotatorA,
      );
      expect(codeOf(renewStale)).toBe('CONFLICT');
      await t().ok(SUBMIT, { q: c.query.id, v: 'dog', t: forB[0].token }, annotatorB);
      expect((await itemLabel(t(), c.query.itemId)).label.value).toBe('dog');
    });

    it('a lapsed claim nobody took over may still be submitted', async () => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 1, l: 1 }, annotatorA);
      await sleep(1300);
      const { submitLabel } = await t().ok(
        SUBMIT,
        { q: claimQueries[0].query.id, v: 'bird', t: claimQueries[0].token },
        annotatorA,
      );
      expect(submitLabel.query.status).toBe('ANSWERED');
    });

    it('renewLease extends the lease from now', async () => {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 1, l: 1 }, annotatorA);
      const [c] = claimQueries;
      const { renewLease } = await t().ok(
        'mutation($t: String!) { renewLease(claimToken: $t, leaseSeconds: 60) { token expiresAt } }',
        { t: c.token },
        annotatorA,
      );
      expect(renewLease.token).toBe(c.token);
      await sleep(1300);
      const { claimQueries: forB } = await t().ok(CLAIM, { d, n: 100 }, annotatorB);
      expect(forB.map((x: any) => x.query.id)).not.toContain(c.query.id);
      for (const x of forB) {
        await t().ok(
          'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }',
          { t: x.token },
          annotatorB,
        );
      }
      await t().ok(SUBMIT, { q: c.query.id, v: 'cat', t: c.token }, annotatorA);
    });

    it('refuses bad claim arguments with BAD_USER_INPUT', async () => {
      for (const vars of [
        { d, n: 0 },
        { d, n: 101 },
        { d, n: 1, l: 0 },
        { d, n: 1, l: 3601 },
      ]) {
        expect(codeOf(await t().gql(CLAIM, vars, annotatorA))).toBe('BAD_USER_INPUT');
      }
    });

    it('a cancelled round’s claims cannot be submitted (CONFLICT)', async () => {
      const d2 = await queueDataset(t(), 'cancelled', { items: 10 });
      const round = await openRound(t(), d2, 3);
      const { claimQueries } = await t().ok(CLAIM, { d: d2, n: 1 });
      await t().ok('mutation($id: ID!) { cancelRound(id: $id) { status } }', { id: round });
      const res = await t().gql(SUBMIT, {
        q: claimQueries[0].query.id,
        v: 'cat',
        t: claimQueries[0].token,
      });
      expect(codeOf(res)).toBe('CONFLICT');
      expect(await queueIds(t(), d2)).toEqual([]);
    });
  });

  describe('several annotators per item (k = 3)', () => {
    let d: string;
    let keys: string[];
    let queries: string[];

    beforeAll(async () => {
      d = await queueDataset(t(), 'consensus', { items: 10, annotationsPerItem: 3 });
      await openRound(t(), d, 2);
      keys = await Promise.all([1, 2, 3, 4].map(() => t().createKey(ApiKeyRole.ANNOTATOR, [d])));
      queries = await queueIds(t(), d);
    });

    it('each annotator gets each query once, and a query waits for three answers', async () => {
      const answers: Record<string, string[]> = {
        // query 1: two "dog" and a "cat" -> dog; query 2: cat, dog, bird -> tie
        [queries[0]]: ['dog', 'dog', 'cat'],
        [queries[1]]: ['cat', 'dog', 'bird'],
      };
      for (let a = 0; a < 3; a++) {
        const { claimQueries } = await t().ok(CLAIM, { d, n: 10 }, keys[a]);
        expect(claimQueries.map((c: any) => c.query.id).sort()).toEqual([...queries].sort());
        // Nothing more for the same annotator while they hold both.
        const { claimQueries: more } = await t().ok(CLAIM, { d, n: 10 }, keys[a]);
        expect(more).toEqual([]);
        for (const c of claimQueries) {
          const { submitLabel } = await t().ok(
            SUBMIT,
            { q: c.query.id, v: answers[c.query.id][a], t: c.token },
            keys[a],
          );
          expect(submitLabel.query.answerCount).toBe(a + 1);
          if (a < 2) expect(submitLabel.query.status).toBe('OPEN');
        }
        // Answered: never offered to the same annotator again.
        const { claimQueries: after } = await t().ok(CLAIM, { d, n: 10 }, keys[a]);
        expect(after).toEqual([]);
      }
      // Three answers in: nothing left for a fourth annotator.
      const { claimQueries: fourth } = await t().ok(CLAIM, { d, n: 10 }, keys[3]);
      expect(fourth).toEqual([]);
    });

    it('resolves to the majority, and flags a tie for review', async () => {
      const { labelQueue } = await t().ok(QUEUE, { d, first: 10 });
      expect(labelQueue.edges).toEqual([]);
      const rows = await t().sql(
        'SELECT id::text, status, item_id::text AS "itemId" FROM label_query WHERE dataset_id = $1 ORDER BY rank',
        [d],
      );
      expect(rows.map((r) => r.status)).toEqual(['ANSWERED', 'NEEDS_REVIEW']);
      const majority = await itemLabel(t(), rows[0].itemId);
      expect(majority.label).toMatchObject({ value: 'dog', source: 'HUMAN' });
      expect(majority.label.confidence).toBeCloseTo(2 / 3, 5);
      expect((await itemLabel(t(), rows[1].itemId)).label).toBeNull();
    });

    it('reports each annotator’s agreement with the majority', async () => {
      const { annotatorAgreement } = await t().ok(
        'query($d: ID!) { annotatorAgreement(datasetId: $d) { annotatorId answers agreed tied rate } }',
        { d },
      );
      const { apiKeys } = await t().ok('{ apiKeys { nodes { id prefix } } }');
      expect(apiKeys.nodes.length).toBeGreaterThan(0);
      const byAnswers = annotatorAgreement.map((a: any) => [a.answers, a.agreed, a.tied, a.rate]);
      // Annotators 1 and 2 said "dog" on query 1 (agree); annotator 3 said "cat" (disagrees).
      expect(byAnswers.sort()).toEqual(
        [
          [2, 1, 1, 1],
          [2, 1, 1, 1],
          [2, 0, 1, 0],
        ].sort(),
      );
    });

    it('a review settles the tie as a HUMAN label', async () => {
      const [row] = await t().sql(
        `SELECT id::text, item_id::text AS "itemId" FROM label_query WHERE dataset_id = $1 AND status = 'NEEDS_REVIEW'`,
        [d],
      );
      const bad = await t().gql(
        'mutation($q: ID!, $v: String!) { resolveReview(queryId: $q, value: $v) { status } }',
        { q: row.id, v: 'dog' },
        keys[0],
      );
      expect(codeOf(bad)).toBe('FORBIDDEN');
      const { resolveReview } = await t().ok(
        'mutation($q: ID!, $v: String!) { resolveReview(queryId: $q, value: $v) { status } }',
        { q: row.id, v: 'bird' },
      );
      expect(resolveReview.status).toBe('ANSWERED');
      expect((await itemLabel(t(), row.itemId)).label.value).toBe('bird');
    });

    it('annotators cannot read each other’s answers; admins can', async () => {
      const q =
        'query($d: ID!) { labelQueue(datasetId: $d) { edges { node { answers { value } } } } }';
      const d2 = await queueDataset(t(), 'consensus-answers', {
        items: 5,
        annotationsPerItem: 2,
      });
      await openRound(t(), d2, 1);
      const k = await t().createKey(ApiKeyRole.ANNOTATOR, [d2]);
      const { claimQueries } = await t().ok(CLAIM, { d: d2, n: 1 }, k);
      await t().ok(SUBMIT, { q: claimQueries[0].query.id, v: 'cat', t: claimQueries[0].token }, k);
      expect(codeOf(await t().gql(q, { d: d2 }, k))).toBe('FORBIDDEN');
      const { labelQueue } = await t().ok(q, { d: d2 });
      expect(labelQueue.edges[0].node.answers).toEqual([{ value: 'cat' }]);
    });
  });

  describe('budget', () => {
    let d: string;

    beforeAll(async () => {
      d = await queueDataset(t(), 'budget', { items: 20, labelBudget: 4 });
      await openRound(t(), d, 4);
    });

    it('claims hold units, answers spend them, and claims stop with BUDGET_EXHAUSTED', async () => {
      // The round's four open queries are owed the whole budget: nothing remains for new work.
      expect((await t().ok(BUDGET, { d })).dataset.budget).toEqual({
        total: 4,
        spent: 0,
        held: 0,
        owed: 4,
        remaining: 0,
      });
      const { claimQueries: two } = await t().ok(CLAIM, { d, n: 2 });
      expect((await t().ok(BUDGET, { d })).dataset.budget).toMatchObject({
        spent: 0,
        held: 2,
        owed: 4,
        remaining: 0,
      });
      await t().ok(SUBMIT, { q: two[0].query.id, v: 'cat', t: two[0].token });
      expect((await t().ok(BUDGET, { d })).dataset.budget).toMatchObject({
        spent: 1,
        held: 1,
        owed: 3,
        remaining: 0,
      });
      // Asking for more than remains hands out what remains.
      const { claimQueries: rest } = await t().ok(CLAIM, { d, n: 5, l: 1 });
      expect(rest).toHaveLength(2);
      const none = await t().gql(CLAIM, { d, n: 1 });
      expect(codeOf(none)).toBe('BUDGET_EXHAUSTED');
      // Held units come back when leases expire.
      await sleep(1300);
      expect((await t().ok(BUDGET, { d })).dataset.budget).toMatchObject({
        spent: 1,
        held: 1,
        owed: 3,
        remaining: 0,
      });
      const { claimQueries: again } = await t().ok(CLAIM, { d, n: 1 });
      expect(again).toHaveLength(1);
      await t().ok(SUBMIT, { q: two[1].query.id, v: 'dog', t: two[1].token });
      await t().ok(SUBMIT, { q: again[0].query.id, v: 'dog', t: again[0].token });
      expect((await t().ok(BUDGET, { d })).dataset.budget).toMatchObject({
        spent: 3,
        held: 0,
        owed: 1,
        remaining: 0,
      });
    });

    it('a round that would need more than the budget left is refused', async () => {
      const res = await t().gql('mutation($i: StartRoundInput!) { startRound(input: $i) { id } }', {
        i: { datasetId: d, strategy: 'random', size: 2 },
      });
      expect(codeOf(res)).toBe('BUDGET_EXHAUSTED');
    });
  });

  describe('annotator role', () => {
    let mine: string;
    let other: string;
    let key: string;

    beforeAll(async () => {
      mine = await queueDataset(t(), 'role-mine', { items: 10 });
      other = await queueDataset(t(), 'role-other', { items: 10 });
      await openRound(t(), mine, 3);
      await openRound(t(), other, 3);
      key = await t().createKey(ApiKeyRole.ANNOTATOR, [mine]);
    });

    it('sees only the queues of its datasets', async () => {
      expect(await queueIds(t(), mine, key)).toHaveLength(3);
      expect(codeOf(await t().gql(QUEUE, { d: other }, key))).toBe('NOT_FOUND');
      expect(codeOf(await t().gql(CLAIM, { d: other, n: 1 }, key))).toBe('NOT_FOUND');
    });

    it('can only claim, renew, release, skip and submit', async () => {
      const forbidden = [
        [
          'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }',
          { i: { datasetId: mine, strategy: 'random', size: 1 } },
        ],
        [
          'mutation($d: ID!) { labelItems(datasetId: $d, labels: [{ externalId: "role-mine-0", value: "cat" }]) { replayed } }',
          { d: mine },
        ],
        [
          'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
          { d: mine, items: [{ externalId: 'x', features: [1, 2, 3, 4] }] },
        ],
        ['query($d: ID!) { annotatorAgreement(datasetId: $d) { annotatorId } }', { d: mine }],
        [CLAIM, { d: mine, n: 1, a: 'someone-else' }],
      ] as const;
      for (const [q, vars] of forbidden) {
        expect(codeOf(await t().gql(q, vars, key))).toBe('FORBIDDEN');
      }
      const { claimQueries } = await t().ok(CLAIM, { d: mine, n: 3 }, key);
      const [a, b, c] = claimQueries;
      expect(a.annotatorId).toBeTruthy();
      await t().ok(
        'mutation($t: String!) { renewLease(claimToken: $t) { token } }',
        { t: a.token },
        key,
      );
      await t().ok(
        'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }',
        { t: b.token },
        key,
      );
      await t().ok(
        'mutation($t: String!) { skipQuery(claimToken: $t) { id } }',
        { t: c.token },
        key,
      );
      await t().ok(SUBMIT, { q: a.query.id, v: 'bird', t: a.token }, key);
    });
  });

  describe('pre-labels and batching', () => {
    let d: string;

    beforeAll(async () => {
      d = await queueDataset(t(), 'prelabels', { items: 150 });
      const { registerModel } = await t().ok(
        'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id } }',
        { d, b: testModel({ featureDim: 4, classes: 3, hidden: 8 }).toString('base64') },
      );
      await openRound(t(), d, 120, { strategy: 'margin', modelIds: [registerModel.id] });
      // Predictions are stored just after the round opens.
      await waitFor(async () => (await t().sql('SELECT count(*)::int AS n FROM prediction'))[0].n, {
        until: (n) => n >= 150,
        timeoutMs: 30_000,
        what: '150 stored predictions',
      });
    });

    const PAGE = `query($d: ID!, $first: Int) {
      labelQueue(datasetId: $d, first: $first) {
        edges { node {
          id score reason answerCount heldCount
          item { id externalId payload features }
          round { id strategy status }
          preLabel { value confidence modelId }
        } }
      }
    }`;

    it('gives each query its item, round, score, reason and the model’s pre-label', async () => {
      const { labelQueue } = await t().ok(PAGE, { d, first: 5 });
      const node = labelQueue.edges[0].node;
      expect(node.item.externalId).toMatch(/^prelabels-/);
      expect(node.item.payload).toEqual({ text: expect.stringMatching(/^item /) });
      expect(node.item.features).toHaveLength(4);
      expect(node.round).toMatchObject({ strategy: 'margin', status: 'OPEN' });
      expect(typeof node.score).toBe('number');
      expect(node.reason).toHaveProperty('margin');
      expect(['cat', 'dog', 'bird']).toContain(node.preLabel.value);
      expect(node.preLabel.confidence).toBeGreaterThan(0);
    });

    it('a page of 100 costs the same number of SQL statements as a page of 10', async () => {
      const count = async (first: number) => {
        const spy = jest.spyOn(PostgresQueryRunner.prototype, 'query');
        try {
          const { labelQueue } = await t().ok(PAGE, { d, first });
          expect(labelQueue.edges).toHaveLength(first);
          // Background work (the job queue's polling, lease checks of earlier claims and the
          // events they publish) is not the request's, nor is the key's look-up: it runs only
          // when the key's cache entry has run out, which depends on the clock, not on the page.
          return spy.mock.calls.filter(
            ([sql]) =>
              !/^(START TRANSACTION|COMMIT|ROLLBACK)/.test(sql) &&
              !/pgboss|lease check|pg_notify/.test(sql) &&
              !/FROM "api_key"/.test(sql),
          ).length;
        } finally {
          spy.mockRestore();
        }
      };
      const small = await count(10);
      const large = await count(100);
      expect(large).toBe(small);
      // dataset, queue page, items, features, rounds, predictions, progress, dataset (class names)
      expect(large).toBeLessThanOrEqual(9);
    });
  });
});
