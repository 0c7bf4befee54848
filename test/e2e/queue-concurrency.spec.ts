import { ApiKeyRole } from '../../src/entities';
import { describeEachDb } from '../helpers/server';
import { CLAIM, SUBMIT, CLASSES, openRound, queueDataset } from '../helpers/queues';

const CLAIMERS = 50;
const QUERIES = 500;

describeEachDb('label queue under concurrency', (t) => {
  it(`${CLAIMERS} concurrent claimers over HTTP: every query handed out once, every label stored once`, async () => {
    const d = await queueDataset(t(), 'concurrency', { items: QUERIES + 100 });
    await openRound(t(), d, QUERIES);
    const keys = await Promise.all(
      Array.from({ length: CLAIMERS }, () => t().createKey(ApiKeyRole.ANNOTATOR, [d])),
    );
    const handedOut: string[] = [];
    const submitted: string[] = [];
    const failures: unknown[] = [];
    let seed = 1;
    const annotator = async (key: string, n: number) => {
      for (;;) {
        const count = 1 + ((n + seed++) % 5);
        const res = await t().gql(CLAIM, { d, n: count, l: 600 }, key);
        if (res.errors) {
          failures.push(res.errors);
          return;
        }
        const claims = res.data.claimQueries;
        if (claims.length === 0) return;
        for (const c of claims) {
          handedOut.push(c.query.id);
          const value = CLASSES[Number(c.query.id) % CLASSES.length];
          const sub = await t().gql(SUBMIT, { q: c.query.id, v: value, t: c.token }, key);
          if (sub.errors) failures.push(sub.errors);
          else submitted.push(sub.data.submitLabel.query.id);
        }
      }
    };
    await Promise.all(keys.map((k, n) => annotator(k, n)));

    expect(failures).toEqual([]);
    expect(handedOut).toHaveLength(QUERIES);
    expect(new Set(handedOut).size).toBe(QUERIES);
    expect(new Set(submitted)).toEqual(new Set(handedOut));

    const [stored] = await t().sql(
      `SELECT count(*)::int AS labels, count(DISTINCT item_id)::int AS items
       FROM label WHERE dataset_id = $1 AND source = 'HUMAN'`,
      [d],
    );
    expect(stored).toEqual({ labels: QUERIES, items: QUERIES });
    const [slots] = await t().sql(
      `SELECT count(*) FILTER (WHERE answered_at IS NOT NULL)::int AS answered,
              count(DISTINCT query_id) FILTER (WHERE answered_at IS NOT NULL)::int AS queries
       FROM query_slot WHERE dataset_id = $1`,
      [d],
    );
    expect(slots).toEqual({ answered: QUERIES, queries: QUERIES });
    const statuses = await t().sql(
      'SELECT status, count(*)::int AS n FROM label_query WHERE dataset_id = $1 GROUP BY status',
      [d],
    );
    expect(statuses).toEqual([{ status: 'ANSWERED', n: QUERIES }]);
    // Every label is the answer its query got.
    const mismatched = await t().sql(
      `SELECT q.id FROM label_query q JOIN label l ON l.item_id = q.item_id AND l.source = 'HUMAN'
       WHERE q.dataset_id = $1 AND l.class_index <> (q.id % 3)`,
      [d],
    );
    expect(mismatched).toEqual([]);
  }, 180_000);
});
