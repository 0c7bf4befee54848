import { ApiKeyRole } from '../../src/entities';
import { backends } from '../helpers/db';
import { gqlTo, serve, stopProcess, type Served } from '../helpers/process';
import { CLAIM, SUBMIT, openRound, queueDataset, subscribe } from '../helpers/queues';
import { describeEachDb, startTestServer, type TestServer } from '../helpers/server';

const ROUND_PROGRESS = `subscription($r: ID!) {
  roundProgress(roundId: $r) { roundId status scored total }
}`;
const QUEUE_CHANGED = `subscription($d: ID!, $s: Boolean) {
  queueChanged(datasetId: $d, snapshot: $s) { kind queryIds counts { open held answered } }
}`;
const REVOKE = 'mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }';
const VIEWER = '{ viewer { id } }';

/** Waits for the first event of `kind`. */
async function eventOfKind(sub: Awaited<ReturnType<typeof subscribe<any>>>, kind: string) {
  const events = await sub.waitUntil(
    (seen) => seen.some((e) => e.queueChanged.kind === kind),
    `a ${kind} event`,
    30_000,
  );
  return events.find((e) => e.queueChanged.kind === kind).queueChanged;
}

describeEachDb(
  'live updates that never miss',
  (t) => {
    let d: string;

    beforeAll(async () => {
      d = await queueDataset(t(), 'live', { items: 40 });
    });

    it('a round that opened before the subscription started still delivers OPEN; it completes when the round ends', async () => {
      const round = await openRound(t(), d, 4);
      const sub = await subscribe(t().url, t().adminKey, ROUND_PROGRESS, { r: round });
      try {
        const [first] = await sub.waitFor(1);
        expect(first.roundProgress).toEqual({
          roundId: round,
          status: 'OPEN',
          scored: 40,
          total: 40,
        });
        await t().ok('mutation($id: ID!) { cancelRound(id: $id) { status } }', { id: round });
        expect(await sub.ended).toBe('completed');
        expect(sub.events.map((e) => e.roundProgress.status)).toEqual(['OPEN', 'CANCELLED']);
      } finally {
        await sub.close();
      }
    });

    it('closes a round once its last query is answered, also when the last two answers come at once: roundProgress completes with CLOSED, the queue hears ROUND_CLOSED', async () => {
      const other = await queueDataset(t(), 'live-closed', { items: 10 });
      const round = await openRound(t(), other, 4);
      const status = async () =>
        (await t().ok('query($id: ID!) { round(id: $id) { status } }', { id: round })).round.status;
      const progress = await subscribe(t().url, t().adminKey, ROUND_PROGRESS, { r: round });
      const queue = await subscribe(t().url, t().adminKey, QUEUE_CHANGED, { d: other });
      try {
        await progress.waitFor(1);
        const { claimQueries } = await t().ok(CLAIM, { d: other, n: 4 });
        expect(claimQueries).toHaveLength(4);
        const answer = (c: { query: { id: string }; token: string }) =>
          t().ok(SUBMIT, { q: c.query.id, v: 'cat', t: c.token });
        await answer(claimQueries[0]);
        await answer(claimQueries[1]);
        await new Promise((r) => setTimeout(r, 500));
        expect(await status()).toBe('OPEN');
        await Promise.all([answer(claimQueries[2]), answer(claimQueries[3])]);
        expect(await progress.ended).toBe('completed');
        expect(progress.events.at(-1).roundProgress.status).toBe('CLOSED');
        const closed = await eventOfKind(queue, 'ROUND_CLOSED');
        expect(closed.queryIds).toEqual([]);
        expect(await status()).toBe('CLOSED');
        // A closed round is over: it cannot be cancelled.
        const res = await t().gql('mutation($id: ID!) { cancelRound(id: $id) { status } }', {
          id: round,
        });
        expect(res.errors?.[0].extensions?.code).toBe('CONFLICT');
      } finally {
        await progress.close();
        await queue.close();
      }
    });

    it('queueChanged with snapshot starts with the open, held and answered counts', async () => {
      const other = await queueDataset(t(), 'live-snapshot', { items: 10 });
      await openRound(t(), other, 5);
      const { claimQueries } = await t().ok(CLAIM, { d: other, n: 2 });
      await t().ok(SUBMIT, {
        q: claimQueries[0].query.id,
        v: 'cat',
        t: claimQueries[0].token,
      });
      const sub = await subscribe(t().url, t().adminKey, QUEUE_CHANGED, { d: other, s: true });
      try {
        const [first] = await sub.waitFor(1);
        expect(first.queueChanged).toEqual({
          kind: 'SNAPSHOT',
          queryIds: [],
          counts: { open: 4, held: 1, answered: 1 },
        });
        // Then the changes, as without a snapshot.
        const { claimQueries: more } = await t().ok(CLAIM, { d: other, n: 1 });
        const [, claimed] = await sub.waitFor(2);
        expect(claimed.queueChanged).toMatchObject({
          kind: 'CLAIMED',
          queryIds: [more[0].query.id],
          counts: null,
        });
      } finally {
        await sub.close();
      }
    });

    it('reports a lease that ran out as LEASE_EXPIRED, and not one that was answered', async () => {
      const other = await queueDataset(t(), 'live-lease', { items: 10 });
      await openRound(t(), other, 4);
      const sub = await subscribe(t().url, t().adminKey, QUEUE_CHANGED, { d: other });
      try {
        const { claimQueries } = await t().ok(CLAIM, { d: other, n: 2, l: 1 });
        const [lapsing, answered] = claimQueries;
        await t().ok(SUBMIT, { q: answered.query.id, v: 'dog', t: answered.token });
        const expired = await eventOfKind(sub, 'LEASE_EXPIRED');
        expect(expired.queryIds).toEqual([lapsing.query.id]);
        const kinds = sub.events.map((e) => e.queueChanged.kind);
        expect(kinds.filter((k) => k === 'LEASE_EXPIRED')).toHaveLength(1);
      } finally {
        await sub.close();
      }
    });

    it("closes a revoked key's open subscriptions within seconds", async () => {
      const annotator = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
      const { viewer } = await t().ok(VIEWER, {}, annotator);
      const sub = await subscribe(t().url, annotator, QUEUE_CHANGED, { d });
      try {
        await t().ok(REVOKE, { id: viewer.id });
        const reason = (await sub.ended) as { code?: number; reason?: string };
        expect(reason.code).toBe(4403);
        expect(reason.reason).toMatch(/revoked/);
      } finally {
        await sub.close();
      }
    });

    it('closes them even when the revocation event is lost, by checking the keys in use', async () => {
      const annotator = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
      const { viewer } = await t().ok(VIEWER, {}, annotator);
      const sub = await subscribe(t().url, annotator, QUEUE_CHANGED, { d });
      try {
        // Revoked behind Quarry's back: no NOTIFY, only the periodic check can tell.
        await t().sql('UPDATE api_key SET revoked_at = now() WHERE id = $1', [viewer.id]);
        const reason = (await sub.ended) as { code?: number };
        expect(reason.code).toBe(4403);
      } finally {
        await sub.close();
      }
    });
  },
  { jobPollingSeconds: 1, subscriptionKeyCheckMs: 300 },
);

if (backends().includes('postgres')) {
  describe('live updates across server processes [postgres]', () => {
    let a: (TestServer & { stop(): Promise<void> }) | undefined;
    let b: Served | undefined;

    beforeAll(async () => {
      // Process A serves the subscriptions and runs no jobs; process B (a real `quarry serve`)
      // runs the jobs: a lease that ends on A's claim is reported by B's lease check.
      a = await startTestServer('postgres', {}, { runJobs: false });
      b = await serve({ DATABASE_URL: a.databaseUrl!, QUARRY_JOB_POLLING_SECONDS: '1' });
    }, 120_000);
    afterAll(async () => {
      if (b) await stopProcess(b);
      await a?.stop();
    }, 60_000);

    it('a lease taken on one process and checked by another reaches subscribers', async () => {
      const d = await queueDataset(a!, 'cross-lease', { items: 20 });
      await openRound(a!, d, 3);
      const sub = await subscribe(a!.url, a!.adminKey, QUEUE_CHANGED, { d });
      try {
        const { claimQueries } = await a!.ok(CLAIM, { d, n: 1, l: 1 });
        const expired = await eventOfKind(sub, 'LEASE_EXPIRED');
        expect(expired.queryIds).toEqual([claimQueries[0].query.id]);
      } finally {
        await sub.close();
      }
    });

    it('a key revoked on one process loses its subscriptions on the other', async () => {
      const d = await queueDataset(a!, 'cross-revoke', { items: 5 });
      const service = await a!.createKey(ApiKeyRole.SERVICE, [d]);
      const { viewer } = await a!.ok(VIEWER, {}, service);
      const sub = await subscribe(a!.url, service, QUEUE_CHANGED, { d });
      try {
        await gqlTo(b!, a!.adminKey, REVOKE, { id: viewer.id });
        const reason = (await sub.ended) as { code?: number };
        expect(reason.code).toBe(4403);
      } finally {
        await sub.close();
      }
    });
  });
}
