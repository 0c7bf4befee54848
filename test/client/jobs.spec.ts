import { QuarryClient, ViewerDocument } from '@quarry/client';
import WebSocket from 'ws';
import { ApiKeyRole } from '../../src/entities';
import { CLASSES, openRound, queueDataset } from '../helpers/queues';
import { testModel } from '../helpers/models';
import { describeEachDb } from '../helpers/server';
import { rejection } from './rejection';

describeEachDb('client SDK: models, rounds, jobs and subscriptions', (t) => {
  let live: QuarryClient;
  let polling: QuarryClient;
  beforeAll(async () => {
    const apiKey = await t().createKey(ApiKeyRole.SERVICE);
    live = new QuarryClient({
      url: t().url,
      apiKey,
      webSocketImpl: WebSocket,
      pollIntervalMs: 100,
    });
    polling = new QuarryClient({ url: t().url, apiKey, pollIntervalMs: 100 });
  });
  afterAll(async () => {
    await live.close();
  });

  it('registers an ONNX model from bytes, and refuses bytes that are not one', async () => {
    const d = await queueDataset(t(), 'sdk-register', { items: 10 });
    const model = await live.models.register(d, {
      name: 'tiny',
      onnx: testModel({ featureDim: 4, classes: CLASSES.length }),
    });
    expect(model).toMatchObject({ version: 1, name: 'tiny', outputKind: 'PROBABILITIES' });
    const bad = await rejection(
      live.models.register(d, { name: 'junk', onnx: new Uint8Array([1, 2, 3]) }),
    );
    expect(bad.code).toBe('BAD_USER_INPUT');
    expect((await live.models.list(d)).map((m) => m.version)).toEqual([1]);
  });

  it('starts a round and resolves once it is OPEN, from the subscription and from polling alone', async () => {
    const d = await queueDataset(t(), 'sdk-rounds', { items: 60 });
    const progress: string[] = [];
    const round = await live.rounds.start(
      { datasetId: d, strategy: 'random', size: 10, seed: 1 },
      { onProgress: (e) => progress.push(e.status), timeoutMs: 30_000 },
    );
    expect(round).toMatchObject({ status: 'OPEN', size: 10, strategy: 'random' });
    const polled = await polling.rounds.start(
      { datasetId: d, strategy: 'random', size: 5, seed: 2 },
      { timeoutMs: 30_000 },
    );
    expect(polled.status).toBe('OPEN');
    // With polling as good as off, only the subscription can tell it the round opened.
    const subscribedOnly = new QuarryClient({
      url: t().url,
      apiKey: t().adminKey,
      webSocketImpl: WebSocket,
      pollIntervalMs: 600_000,
    });
    try {
      const heard = await subscribedOnly.rounds.start(
        { datasetId: d, strategy: 'random', size: 5, seed: 4 },
        { timeoutMs: 30_000 },
      );
      expect(heard.status).toBe('OPEN');
    } finally {
      await subscribedOnly.close();
    }
    // A round that opened before anyone waited resolves at once.
    expect((await live.rounds.waitUntilOpen(round.id)).id).toBe(round.id);
    const queued = await live.rounds.start(
      { datasetId: d, strategy: 'random', size: 5, seed: 3 },
      { until: 'QUEUED' },
    );
    expect(['QUEUED', 'SCORING', 'SELECTING', 'OPEN']).toContain(queued.status);
    await live.rounds.waitUntilOpen(queued.id, { timeoutMs: 30_000 });
    const closed = await live.rounds.cancel(queued.id);
    expect(closed.status).toBe('CANCELLED');
    expect((await live.rounds.list(d)).map((r) => r.id)).toContain(round.id);
    const bad = await rejection(live.rounds.start({ datasetId: d, strategy: 'no-such', size: 5 }));
    expect(bad.code).toBe('BAD_USER_INPUT');
  });

  it('trains a model and resolves when the run has ended, with the learning curve after', async () => {
    const d = await queueDataset(t(), 'sdk-train', { items: 60 });
    const ids: string[] = [];
    for await (const item of live.items.iterate(d)) ids.push(item.id);
    const written = await live.labels.write(
      d,
      ids.map((itemId, i) => ({ itemId, value: CLASSES[i % CLASSES.length] })),
    );
    expect(written.replayed).toBe(false);
    const run = await live.models.train(
      { datasetId: d, trainer: 'softmax', options: { seed: 1 } },
      { timeoutMs: 60_000 },
    );
    expect(run).toMatchObject({ status: 'SUCCEEDED', error: null });
    expect(run.model).toMatchObject({ version: 1, humanLabels: 60 });
    const curve = await live.models.learningCurve(d);
    expect(curve.map((p) => p.model.version)).toEqual([1]);
    const bad = await rejection(live.models.train({ datasetId: d, trainer: 'no-such' }));
    expect(bad.code).toBe('BAD_USER_INPUT');
  });

  it('streams queue events and round progress as async iterators; a wrong key is UNAUTHENTICATED at once', async () => {
    const d = await queueDataset(t(), 'sdk-events', { items: 20 });
    const roundId = await openRound(t(), d, 4);
    const queueEvents = live.subscribe.queue(d);
    const roundEvents = live.subscribe.round(roundId);
    const nextQueueEvent = queueEvents.next();
    const nextRoundEvent = roundEvents.next();
    // Both are subscribed once a query on the same socket has come back.
    for await (const _ of live.subscription(ViewerDocument, {})) break;
    const [claim] = await live.queue.claim(d, 1, { annotatorId: 'watcher' });
    expect((await nextQueueEvent).value).toMatchObject({
      datasetId: d,
      kind: 'CLAIMED',
      queryIds: [claim.query.id],
    });
    // roundProgress starts with the round's state as it is, then follows it to its end.
    expect((await nextRoundEvent).value).toMatchObject({ roundId, status: 'OPEN' });
    await live.rounds.cancel(roundId);
    expect((await roundEvents.next()).value).toMatchObject({ roundId, status: 'CANCELLED' });
    expect((await roundEvents.next()).done).toBe(true);
    await queueEvents.return(undefined);
    await roundEvents.return(undefined);

    const stranger = new QuarryClient({
      url: t().url,
      apiKey: 'qk_wrong',
      webSocketImpl: WebSocket,
    });
    try {
      const refused = await rejection(stranger.subscribe.queue(d).next());
      expect(refused.code).toBe('UNAUTHENTICATED');
    } finally {
      await stranger.close();
    }
  });

  it('synthesizes items and decides a stream with one call each', async () => {
    const d = await queueDataset(t(), 'sdk-synth', { items: 30 });
    const ids: string[] = [];
    for await (const item of live.items.iterate(d)) ids.push(item.id);
    await live.labels.write(
      d,
      ids.slice(0, 12).map((itemId, i) => ({ itemId, value: CLASSES[i % CLASSES.length] })),
    );
    const made = await live.jobs.synthesizeItems({
      datasetId: d,
      method: 'gaussian',
      count: 3,
      seed: 1,
    });
    expect(made.items).toHaveLength(3);
    expect(made.round.size).toBe(3);
    const model = await live.models.register(d, {
      name: 'scorer',
      onnx: testModel({ featureDim: 4, classes: CLASSES.length }),
    });
    const decided = await live.jobs.streamItems({
      datasetId: d,
      modelId: model.id,
      policy: { code: 'fixed-threshold', params: { threshold: 0.99 } },
      items: [{ externalId: 's-1', features: [1, 2, 3, 4] }],
    });
    expect(decided.decisions).toHaveLength(1);
    expect(decided.queriedCount + decided.autoLabeledCount + decided.deferredCount).toBe(1);
  });

  it('auto-labels and simulates as jobs that resolve when done, reporting progress', async () => {
    const d = await queueDataset(t(), 'sdk-auto', { items: 40 });
    const model = await live.models.register(d, {
      name: 'labeller',
      onnx: testModel({ featureDim: 4, classes: CLASSES.length }),
    });
    const progress: number[] = [];
    const run = await live.jobs.autoLabel(
      { datasetId: d, modelId: model.id, threshold: 0.34, auditRate: 0, seed: 1 },
      { onProgress: (p) => progress.push(p.done), timeoutMs: 60_000 },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(run.labelledCount).toBeGreaterThan(0);
    let modelLabels = 0;
    for await (const _ of live.labels.export(d, { source: 'MODEL' })) modelLabels++;
    expect(modelLabels).toBe(run.labelledCount);
    expect(progress.length).toBeGreaterThan(0);

    const sim = await live.datasets.create({ name: 'sdk-sim', classes: ['a', 'b'], featureDim: 2 });
    await live.items.import(
      sim.id,
      Array.from({ length: 120 }, (_, i) => ({
        externalId: `s${i}`,
        features: [i % 2 === 0 ? 1 + Math.sin(i) * 0.3 : -1 + Math.cos(i) * 0.3, Math.sin(i * 7)],
        split: i % 4 === 0 ? ('TEST' as const) : ('POOL' as const),
        groundTruth: i % 2 === 0 ? 'a' : 'b',
      })),
    );
    const simulation = await live.jobs.simulate(
      {
        datasetId: sim.id,
        strategies: [{ strategy: 'random' }],
        seedSize: 10,
        batchSize: 10,
        budget: 30,
        repeats: 1,
        seed: 1,
      },
      { timeoutMs: 60_000 },
    );
    expect(simulation.status).toBe('SUCCEEDED');
    expect(simulation.curves?.[0].strategy).toBe('random');
    const bad = await rejection(
      live.jobs.simulate({ datasetId: sim.id, strategies: [{ strategy: 'psychic' }] }),
    );
    expect(bad.code).toBe('BAD_USER_INPUT');
  });
});
