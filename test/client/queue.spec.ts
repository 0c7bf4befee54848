import { QuarryClient, type Claim } from '@quarry/client';
import { ApiKeyRole } from '../../src/entities';
import { CLASSES, openRound, queueDataset } from '../helpers/queues';
import { describeEachDb } from '../helpers/server';
import { startFaultProxy } from './fault-proxy';
import { rejection } from './rejection';

const WORKERS = 10;
const QUERIES = 120;

describeEachDb('client SDK: the annotator loop', (t) => {
  let client: QuarryClient;
  beforeAll(async () => {
    client = new QuarryClient({
      url: t().url,
      apiKey: await t().createKey(ApiKeyRole.SERVICE),
      retry: { minDelayMs: 5, maxDelayMs: 50 },
    });
  });

  async function humanLabels(datasetId: string) {
    const [row] = await t().sql(
      `SELECT count(*)::int AS labels, count(DISTINCT item_id)::int AS items
       FROM label WHERE dataset_id = $1 AND source = 'HUMAN'`,
      [datasetId],
    );
    return row;
  }

  it(`${WORKERS} concurrent workers label every query exactly once, through lost answers and overload refusals`, async () => {
    const d = await queueDataset(t(), 'sdk-work', { items: QUERIES + 30 });
    await openRound(t(), d, QUERIES);
    let submits = 0;
    let claims = 0;
    // Every 4th submit loses its first answer; its retries (same idempotency key) pass, so how
    // many retries a submit needs does not depend on how the workers interleave.
    const dropped = new Set<string>();
    const proxy = await startFaultProxy(t().url, (body) => {
      if (body.includes('mutation SubmitLabel')) {
        const key = String(JSON.parse(body).variables?.idempotencyKey);
        if (dropped.has(key) || ++submits % 4 !== 0) return 'pass';
        dropped.add(key);
        return 'drop-response';
      }
      if (body.includes('mutation ClaimQueries') && ++claims % 7 === 0) {
        return { overloaded: { retryAfterSeconds: 0 } };
      }
      return 'pass';
    });
    try {
      const flaky = new QuarryClient({
        url: proxy.url,
        apiKey: await t().createKey(ApiKeyRole.SERVICE),
        retry: { minDelayMs: 5, maxDelayMs: 50 },
      });
      const decided: string[] = [];
      const report = await flaky.queue.work(
        d,
        (claim) => {
          decided.push(claim.query.id);
          return CLASSES[Number(claim.query.id) % CLASSES.length];
        },
        { concurrency: WORKERS, annotatorId: (i) => `worker-${i}` },
      );
      expect(proxy.dropped).toBeGreaterThan(0);
      expect(proxy.refused).toBeGreaterThan(0);
      expect(report).toMatchObject({ submitted: QUERIES, skipped: 0, released: 0, lost: 0 });
      // Each dropped submit was retried and answered from the idempotency record.
      expect(report.replayed).toBeGreaterThan(0);
      expect(report.replayed).toBeLessThanOrEqual(proxy.dropped);
      expect(new Set(decided).size).toBe(QUERIES);
      expect(decided).toHaveLength(QUERIES);
      expect(await humanLabels(d)).toEqual({ labels: QUERIES, items: QUERIES });
      const statuses = await t().sql(
        'SELECT status, count(*)::int AS n FROM label_query WHERE dataset_id = $1 GROUP BY status',
        [d],
      );
      expect(statuses).toEqual([{ status: 'ANSWERED', n: QUERIES }]);
    } finally {
      await proxy.close();
    }
  });

  it('honours Retry-After on SERVICE_OVERLOADED before retrying', async () => {
    const d = await queueDataset(t(), 'sdk-retry-after', { items: 5 });
    await openRound(t(), d, 2);
    let refusedOnce = false;
    const proxy = await startFaultProxy(t().url, (body) => {
      if (body.includes('mutation ClaimQueries') && !refusedOnce) {
        refusedOnce = true;
        return { overloaded: { retryAfterSeconds: 1 } };
      }
      return 'pass';
    });
    try {
      const slow = new QuarryClient({ url: proxy.url, apiKey: t().adminKey });
      const started = Date.now();
      const claims = await slow.queue.claim(d, 1, { annotatorId: 'patient' });
      expect(claims).toHaveLength(1);
      expect(proxy.refused).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      await slow.queue.release(claims[0]);
    } finally {
      await proxy.close();
    }
  });

  it('does not repeat a claim whose answer was lost, and reports NETWORK_ERROR', async () => {
    const d = await queueDataset(t(), 'sdk-lost-claim', { items: 5 });
    await openRound(t(), d, 3);
    const proxy = await startFaultProxy(t().url, (body) =>
      body.includes('mutation ClaimQueries') ? 'drop-response' : 'pass',
    );
    try {
      const lossy = new QuarryClient({ url: proxy.url, apiKey: t().adminKey });
      const error = await rejection(lossy.queue.claim(d, 1, { annotatorId: 'unlucky' }));
      expect(error.code).toBe('NETWORK_ERROR');
      expect(proxy.dropped).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it("renews, releases and skips claims; a released token is CONFLICT, another key's claim FORBIDDEN", async () => {
    const d = await queueDataset(t(), 'sdk-claims', { items: 10 });
    await openRound(t(), d, 3);
    const [a, b] = await client.queue.claim(d, 2, { leaseSeconds: 30, annotatorId: 'ann' });
    const renewed = await client.queue.renew(a, 600);
    expect(Date.parse(renewed)).toBeGreaterThan(Date.parse(a.expiresAt));
    await client.queue.release(a);
    await client.queue.skip(b, 'unsure');
    const stale = await rejection(client.queue.submit(a, 'cat'));
    expect(stale.code).toBe('CONFLICT');

    const again = await client.queue.claim(d, 3, { annotatorId: 'ann' });
    const ids = again.map((c) => c.query.id);
    expect(ids).toContain(a.query.id);
    expect(ids).not.toContain(b.query.id);
    const other = new QuarryClient({
      url: t().url,
      apiKey: await t().createKey(ApiKeyRole.SERVICE),
    });
    expect((await rejection(other.queue.submit(again[0], 'cat'))).code).toBe('FORBIDDEN');
    const badClass = await rejection(client.queue.submit(again[0], 'zebra'));
    expect(badClass.code).toBe('BAD_USER_INPUT');
    const first = await client.queue.submit(again[0], 'cat');
    const repeat = await client.queue.submit(again[0], 'cat');
    expect(first.replayed).toBe(false);
    expect(repeat.replayed).toBe(true);
    expect(await humanLabels(d)).toEqual({ labels: 1, items: 1 });
  });

  it('keeps a lease alive while the handler decides, so nobody else gets the query', async () => {
    const d = await queueDataset(t(), 'sdk-lease', { items: 3 });
    await openRound(t(), d, 1);
    let stolen: Claim[] | undefined;
    const report = await client.queue.work(
      d,
      async () => {
        await new Promise((r) => setTimeout(r, 2500));
        stolen = await client.queue.claim(d, 1, { annotatorId: 'thief' });
        return 'dog';
      },
      { leaseSeconds: 1, annotatorId: 'slow' },
    );
    expect(stolen).toEqual([]);
    expect(report).toMatchObject({ submitted: 1, lost: 0 });
  });

  it('works skip and release decisions, and stops with a handler error after releasing its claim', async () => {
    const d = await queueDataset(t(), 'sdk-decisions', { items: 6 });
    await openRound(t(), d, 4);
    let n = 0;
    const report = await client.queue.work(
      d,
      () => {
        n++;
        if (n === 1) return { skip: true, reason: 'blurry' } as const;
        if (n === 2) return { release: true } as const;
        return { value: 'bird' };
      },
      { annotatorId: 'picky' },
    );
    // The released query comes back to the same annotator; the skipped one does not.
    expect(report).toMatchObject({ skipped: 1, released: 1, submitted: 3 });

    const d2 = await queueDataset(t(), 'sdk-handler-error', { items: 4 });
    await openRound(t(), d2, 2);
    const boom = new Error('model crashed');
    await expect(
      client.queue.work(
        d2,
        () => {
          throw boom;
        },
        { annotatorId: 'crashy' },
      ),
    ).rejects.toBe(boom);
    expect(await client.queue.claim(d2, 2, { annotatorId: 'crashy' })).toHaveLength(2);
  });

  it('stops working when the label budget is spent, and maps BUDGET_EXHAUSTED for claims and rounds', async () => {
    const d = await queueDataset(t(), 'sdk-budget', { items: 10, labelBudget: 3 });
    await openRound(t(), d, 3);
    const report = await client.queue.work(d, () => 'cat', {
      concurrency: 2,
      annotatorId: (i) => `budget-${i}`,
    });
    expect(report).toMatchObject({ submitted: 3, budgetExhausted: true });
    expect((await rejection(client.queue.claim(d, 1))).code).toBe('BUDGET_EXHAUSTED');
    const round = await rejection(
      client.rounds.start({ datasetId: d, strategy: 'random', size: 2 }),
    );
    expect(round.code).toBe('BUDGET_EXHAUSTED');
    expect((await client.datasets.get(d)).budget).toMatchObject({ spent: 3, remaining: 0 });
  });
});
