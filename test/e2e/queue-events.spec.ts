import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ApiKeyRole } from '../../src/entities';
import { backends } from '../helpers/db';
import { describeEachDb, startTestServer, type TestServer } from '../helpers/server';
import { CLAIM, SUBMIT, openRound, queueDataset, subscribe } from '../helpers/queues';
import { gqlTo, serve, stopProcess, type Served } from '../helpers/process';

const QUEUE_CHANGED = `subscription($d: ID!) {
  queueChanged(datasetId: $d) { kind datasetId roundId queryIds at }
}`;
const ROUND_PROGRESS = `subscription($r: ID!) {
  roundProgress(roundId: $r) { roundId datasetId status scored total error at }
}`;
const RELEASE = 'mutation($t: String!) { releaseQuery(claimToken: $t) { id } }';
const SKIP = 'mutation($t: String!) { skipQuery(claimToken: $t) { id } }';

const STATUS_ORDER = ['QUEUED', 'SCORING', 'SELECTING', 'OPEN'];

/** Subscribes and waits for the first event (or the error that ends the subscription). */
async function firstEvent(
  t: TestServer,
  key: string,
  query: string,
  vars: Record<string, unknown>,
) {
  const sub = await subscribe(t.url, key, query, vars);
  try {
    return await sub.waitFor(1, 5000);
  } finally {
    await sub.close();
  }
}

describeEachDb('queue events over WebSocket', (t) => {
  let d: string;
  let annotator: string;

  beforeAll(async () => {
    d = await queueDataset(t(), 'events', { items: 30 });
    await openRound(t(), d, 5);
    annotator = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
  });

  it('queueChanged reports claims, answers, releases, skips and rounds in commit order', async () => {
    const sub = await subscribe(t().url, annotator, QUEUE_CHANGED, { d });
    try {
      const { claimQueries } = await t().ok(CLAIM, { d, n: 2 }, annotator);
      const [a, b] = claimQueries;
      await t().ok(SUBMIT, { q: a.query.id, v: 'cat', t: a.token }, annotator);
      await t().ok(RELEASE, { t: b.token }, annotator);
      const { claimQueries: again } = await t().ok(CLAIM, { d, n: 1 }, annotator);
      await t().ok(SKIP, { t: again[0].token }, annotator);
      const round = await openRound(t(), d, 3);
      await t().ok('mutation($id: ID!) { cancelRound(id: $id) { status } }', { id: round });
      const events = (await sub.waitFor(7)).map((e: any) => e.queueChanged);
      expect(events.map((e) => [e.kind, e.queryIds])).toEqual([
        ['CLAIMED', [a.query.id, b.query.id]],
        ['ANSWERED', [a.query.id]],
        ['RELEASED', [b.query.id]],
        ['CLAIMED', [again[0].query.id]],
        ['SKIPPED', [again[0].query.id]],
        ['ROUND_OPENED', []],
        ['ROUND_CLOSED', []],
      ]);
      expect(events[5].roundId).toBe(round);
      expect(events.every((e) => e.datasetId === d)).toBe(true);
      const times = events.map((e) => Date.parse(e.at));
      expect([...times].sort((x, y) => x - y)).toEqual(times);
    } finally {
      await sub.close();
    }
  });

  it('refuses to subscribe to a dataset outside the key’s scope', async () => {
    const other = await queueDataset(t(), 'events-other', { items: 3 });
    await expect(firstEvent(t(), annotator, QUEUE_CHANGED, { d: other })).rejects.toThrow(
      /NOT_FOUND/,
    );
  });

  it('refuses a WebSocket connection without a valid key', async () => {
    const client = createClient({
      url: t().url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: 'Bearer qk_not_a_key' },
      retryAttempts: 0,
    });
    const closed = new Promise<unknown>((resolve) => {
      client.subscribe(
        { query: QUEUE_CHANGED, variables: { d } },
        {
          next: () => undefined,
          error: resolve,
          complete: () => resolve('completed'),
        },
      );
    });
    const reason = (await closed) as { code?: number };
    expect(reason.code).toBe(4403);
    await client.dispose();
  });

  it('a round of another dataset, or a missing one, is NOT_FOUND to roundProgress', async () => {
    await expect(
      firstEvent(t(), annotator, ROUND_PROGRESS, { r: '00000000-0000-4000-8000-000000000000' }),
    ).rejects.toThrow(/NOT_FOUND/);
  });
});

/** A round's events: statuses never go back, progress never decreases, it ends OPEN. */
function expectProgressInOrder(events: any[]): void {
  let status = 0;
  let scored = 0;
  for (const e of events) {
    const s = STATUS_ORDER.indexOf(e.status);
    expect(s).toBeGreaterThanOrEqual(status);
    expect(e.scored).toBeGreaterThanOrEqual(s === status ? scored : 0);
    status = s;
    scored = e.scored;
  }
  const last = events[events.length - 1];
  expect(last.status).toBe('OPEN');
  expect(last.scored).toBe(last.total);
}

async function waitForOpen(sub: Awaited<ReturnType<typeof subscribe<any>>>) {
  await sub.waitUntil(
    (events) => events.some((e) => e.roundProgress.status === 'OPEN'),
    'an OPEN round progress event',
    60_000,
  );
  return sub.events.map((e) => e.roundProgress);
}

for (const backend of backends()) {
  describe(`round progress [${backend}]`, () => {
    let t: (TestServer & { stop(): Promise<void> }) | undefined;

    beforeAll(async () => {
      // Jobs start only when the test says so: the subscription is in place before the round runs.
      t = await startTestServer(backend, { roundChunkRows: 500 }, { runJobs: false });
    }, 120_000);
    afterAll(async () => {
      await t?.stop();
    }, 60_000);

    it('roundProgress follows a round from SCORING, chunk by chunk, to OPEN', async () => {
      const d = await queueDataset(t!, 'progress', { items: 3000 });
      const { startRound } = await t!.ok(
        'mutation($i: StartRoundInput!) { startRound(input: $i) { id status } }',
        { i: { datasetId: d, strategy: 'random', size: 10 } },
      );
      expect(startRound.status).toBe('QUEUED');
      const sub = await subscribe(t!.url, t!.adminKey, ROUND_PROGRESS, { r: startRound.id });
      try {
        await t!.server.startJobs();
        const events = await waitForOpen(sub);
        expect(events.every((e) => e.roundId === startRound.id && e.datasetId === d)).toBe(true);
        // The round's state as the subscription starts comes first.
        expect(events[0].status).toBe('QUEUED');
        expect(events[1].status).toBe('SCORING');
        // One event per chunk of 500 at least, besides the status changes.
        expect(events.filter((e) => e.status === 'SCORING').length).toBeGreaterThanOrEqual(6);
        expectProgressInOrder(events);
        expect(events[events.length - 1]).toMatchObject({ scored: 3000, total: 3000 });
      } finally {
        await sub.close();
      }
    });
  });
}

if (backends().includes('postgres')) {
  describe('events across server processes [postgres]', () => {
    let a: (TestServer & { stop(): Promise<void> }) | undefined;
    let b: Served | undefined;

    beforeAll(async () => {
      // Process A serves subscriptions and runs no jobs; process B (a real `quarry serve`)
      // runs the round and takes claims. Only the database connects them.
      a = await startTestServer('postgres', {}, { runJobs: false });
    }, 120_000);
    afterAll(async () => {
      if (b) await stopProcess(b);
      await a?.stop();
    }, 60_000);

    it('a subscriber on one process hears of work done on another', async () => {
      const d = await queueDataset(a!, 'cross', { items: 200 });
      const { startRound } = await a!.ok(
        'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }',
        { i: { datasetId: d, strategy: 'random', size: 5 } },
      );
      const progress = await subscribe(a!.url, a!.adminKey, ROUND_PROGRESS, {
        r: startRound.id,
      });
      const queue = await subscribe(a!.url, a!.adminKey, QUEUE_CHANGED, { d });
      try {
        b = await serve({ DATABASE_URL: a!.databaseUrl! });
        const events = await waitForOpen(progress);
        expectProgressInOrder(events);
        const [opened] = await queue.waitFor(1, 30_000);
        expect(opened.queueChanged).toMatchObject({ kind: 'ROUND_OPENED', roundId: startRound.id });
        const { claimQueries } = await gqlTo(b, a!.adminKey, CLAIM, { d, n: 1 });
        const [, claimed] = await queue.waitFor(2, 30_000);
        expect(claimed.queueChanged).toMatchObject({
          kind: 'CLAIMED',
          queryIds: [claimQueries[0].query.id],
        });
      } finally {
        await progress.close();
        await queue.close();
      }
    });
  });
}
