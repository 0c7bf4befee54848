import { ApiKeyRole } from '../../src/entities';
import { freeSlots } from '../../src/db/sql/slots.sql';
import { insertQueries, insertSlots } from '../../src/db/sql/rounds.sql';
import { testModel } from '../helpers/models';
import { CLAIM, CLASSES, openRound, queueDataset, SUBMIT } from '../helpers/queues';
import { codeOf, describeEachDb } from '../helpers/server';

const UPDATE = `mutation($id: ID!, $i: UpdateDatasetInput!) {
  updateDataset(id: $id, input: $i) { annotationsPerItem } }`;
const RELEASE = 'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }';
const SKIP = 'mutation($t: String!) { skipQuery(claimToken: $t) { id } }';
const RENEW = 'mutation($t: String!) { renewLease(claimToken: $t) { token } }';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

describeEachDb('claims keep their guarantees', (t) => {
  it('never gives one annotator two slots of a query, after annotationsPerItem went from 3 to 1 while its queries were open', async () => {
    const d = await queueDataset(t(), 'k-lowered', { items: 40, annotationsPerItem: 3 });
    await openRound(t(), d, 30);
    await t().ok(UPDATE, { id: d, i: { annotationsPerItem: 1 } });
    const service = await t().createKey(ApiKeyRole.SERVICE, [d]);
    type Claimed = { token: string; query: { id: string } };
    // Bursts of 12 concurrent claims of 3, handed back between bursts: the race of two claims
    // of one person needs them to overlap, so it is given several chances.
    for (let burst = 0; burst < 5; burst++) {
      const answers = await Promise.all(
        Array.from({ length: 12 }, () => t().gql(CLAIM, { d, n: 3, a: 'alice' }, service)),
      );
      const claims = answers.flatMap((r) => {
        expect(r.errors).toBeUndefined();
        return r.data.claimQueries as Claimed[];
      });
      const ids = claims.map((c) => c.query.id);
      expect(ids.length - new Set(ids).size).toBe(0);
      expect(ids.length).toBe(30);
      const twice = await t().sql(
        `SELECT query_id FROM query_slot WHERE dataset_id = $1 AND annotator_id = 'alice'
           AND lease_expires_at > now() GROUP BY query_id HAVING count(*) > 1`,
        [d],
      );
      expect(twice).toEqual([]);
      if (burst === 4) {
        // Her answers count once per query: each query still needs two more people.
        for (const c of claims) {
          const { submitLabel } = await t().ok(
            SUBMIT,
            { q: c.query.id, v: CLASSES[0], t: c.token },
            service,
          );
          expect(submitLabel.query).toMatchObject({
            status: 'OPEN',
            answerCount: 1,
            answersNeeded: 3,
          });
        }
      } else {
        for (const c of claims) await t().ok(RELEASE, { t: c.token }, service);
      }
    }
    const again = await t().ok(CLAIM, { d, n: 3, a: 'alice' }, service);
    expect(again.claimQueries).toEqual([]);
    const bob = await t().ok(CLAIM, { d, n: 30, a: 'bob' }, service);
    expect(bob.claimQueries).toHaveLength(30);
  });

  it('walks the queue by its index after a round wrote thousands of queries the planner does not know of', async () => {
    for (const table of ['label_query', 'query_slot', 'round'])
      await t().sql(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
    const d = await queueDataset(t(), 'stale-plan', { items: 3_000 });
    // A small round first: its queries are what the planner last learnt of the queue.
    await openRound(t(), d, 10);
    // Then a round of thousands of queries, written as a round writes them, without ANALYZE.
    const [round] = await t().sql(
      `INSERT INTO round (dataset_id, strategy, size, status) VALUES ($1, 'random', 2990, 'OPEN') RETURNING id`,
      [d],
    );
    const items: { id: string }[] = await t().sql(
      `SELECT id::text AS id FROM item i WHERE dataset_id = $1
         AND NOT EXISTS (SELECT 1 FROM label_query q WHERE q.item_id = i.id) ORDER BY id`,
      [d],
    );
    const insert = insertQueries(
      d,
      round.id,
      {
        itemIds: items.map((i) => i.id),
        scores: items.map(() => 0),
        reasons: items.map(() => '{}'),
      },
      1,
    );
    await t().sql(insert.text, insert.values);
    const slots = insertSlots(round.id);
    await t().sql(slots.text, slots.values);

    const claim = freeSlots(d, 'alice', 3);
    const [row] = await t().sql(`EXPLAIN (ANALYZE, FORMAT JSON) ${claim.text}`, claim.values);
    const raw = row['QUERY PLAN'];
    const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw)[0].Plan as PlanNode;
    const nodes = nodesOf(plan);
    const queue = nodes.filter((n) => n['Relation Name'] === 'label_query');
    const shown = JSON.stringify(plan);
    expect(queue.length).toBeGreaterThan(0);
    for (const n of queue) {
      expect([n['Node Type'], n['Index Name']]).toEqual(['Index Scan', 'ix_label_query_queue']);
      // Only as far into the queue as the claim needs, in each round.
      expect(n['Actual Rows']!).toBeLessThanOrEqual(3);
    }
    for (const n of nodes) {
      if (n['Node Type'] === 'Seq Scan')
        expect([n['Relation Name'], shown]).toEqual(['round', shown]);
      if (n['Node Type'] === 'Sort') expect(n['Actual Rows']!).toBeLessThanOrEqual(6);
    }
    const { claimQueries } = await t().ok(CLAIM, { d, n: 3 });
    expect(claimQueries).toHaveLength(3);
  });

  it('answers for a claim token of a dataset outside the key’s scope as for an unknown token', async () => {
    const mine = await queueDataset(t(), 'scope-mine', { items: 5 });
    const theirs = await queueDataset(t(), 'scope-theirs', { items: 5 });
    await openRound(t(), theirs, 3);
    const { claimQueries } = await t().ok(CLAIM, { d: theirs, n: 1 });
    const [c] = claimQueries;
    const outsider = await t().createKey(ApiKeyRole.ANNOTATOR, [mine]);
    for (const m of [RELEASE, SKIP, RENEW]) {
      const unknown = await t().gql(m, { t: '11111111-1111-4111-8111-111111111111' }, outsider);
      const other = await t().gql(m, { t: c.token }, outsider);
      expect(codeOf(unknown)).toBe('CONFLICT');
      // Everything but the request id (each request has its own) is the same.
      const withoutRequestId = (errors: { extensions?: Record<string, unknown> }[] | undefined) =>
        errors?.map((e) => ({ ...e, extensions: { ...e.extensions, requestId: undefined } }));
      expect(withoutRequestId(other.errors)).toEqual(withoutRequestId(unknown.errors));
    }
    // The query itself is out of scope: NOT_FOUND, as for a missing one.
    const submit = await t().gql(SUBMIT, { q: c.query.id, v: CLASSES[0], t: c.token }, outsider);
    expect(codeOf(submit)).toBe('NOT_FOUND');
    // The claim is untouched.
    await t().ok(RELEASE, { t: c.token });
  });

  it('answers NOT_FOUND for a model of a dataset outside the key’s scope, as for a missing one', async () => {
    const mine = await queueDataset(t(), 'models-mine', { items: 1 });
    const theirs = await queueDataset(t(), 'models-theirs', { items: 1 });
    const { registerModel } = await t().ok(
      'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id } }',
      { d: theirs, b: testModel({ featureDim: 4, classes: CLASSES.length }).toString('base64') },
    );
    const service = await t().createKey(ApiKeyRole.SERVICE, [mine]);
    const MODEL = 'query($id: ID!) { model(id: $id) { id } }';
    const other = await t().gql(MODEL, { id: registerModel.id }, service);
    expect(codeOf(other)).toBe('NOT_FOUND');
    expect(other.errors![0].message).toBe(`Model "${registerModel.id}" does not exist.`);
    expect(other.errors![0].message).not.toContain(theirs);
    const missing = await t().gql(MODEL, { id: '11111111-1111-4111-8111-111111111111' }, service);
    expect(codeOf(missing)).toBe('NOT_FOUND');
  });
});
