import { QuarryClient, DatasetDocument, isQuarryError } from '@quarry/client';
import { ApiKeyRole } from '../../src/entities';
import { CLASSES, queueDataset } from '../helpers/queues';
import { describeEachDb } from '../helpers/server';
import { rejection } from './rejection';

describeEachDb('client SDK: requests and errors', (t) => {
  let client: QuarryClient;
  beforeAll(() => {
    client = new QuarryClient({ url: t().url, apiKey: t().adminKey });
  });

  it('creates, gets and lists datasets with typed answers', async () => {
    const created = await client.datasets.create({
      name: 'sdk-basics',
      classes: ['cat', 'dog'],
      featureDim: 2,
      labelBudget: 10,
    });
    expect(created).toMatchObject({ name: 'sdk-basics', classes: ['cat', 'dog'], featureDim: 2 });
    expect(created.budget).toMatchObject({ total: 10, spent: 0 });
    expect((await client.datasets.get(created.id)).name).toBe('sdk-basics');
    expect((await client.datasets.list()).map((d) => d.name)).toContain('sdk-basics');
    expect((await client.datasets.find('sdk-basics')).id).toBe(created.id);
    const { dataset } = await client.request(DatasetDocument, { id: created.id });
    expect(dataset.id).toBe(created.id);
  });

  it('reports NOT_FOUND and CONFLICT as typed errors', async () => {
    const missing = await rejection(client.datasets.get('999999'));
    expect(missing.code).toBe('NOT_FOUND');
    expect(isQuarryError(missing, 'NOT_FOUND')).toBe(true);
    await client.datasets.create({ name: 'sdk-twice', classes: ['a', 'b'], featureDim: 1 });
    const twice = await rejection(
      client.datasets.create({ name: 'sdk-twice', classes: ['a', 'b'], featureDim: 1 }),
    );
    expect(twice.code).toBe('CONFLICT');
    expect(twice.status).toBe(200);
  });

  it('lists the rejected items of an import in problems', async () => {
    const ds = await client.datasets.create({
      name: 'sdk-bad-import',
      classes: ['a', 'b'],
      featureDim: 2,
    });
    const error = await rejection(
      client.items.import(ds.id, [
        { externalId: 'ok', features: [1, 2] },
        { externalId: 'short', features: [1] },
        { externalId: 'bad-class', features: [1, 2], label: 'zebra' },
      ]),
    );
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.problemCount).toBe(2);
    expect(error.problems.map((p) => p.id).sort()).toEqual(['bad-class', 'short']);
    expect(await client.items.iterate(ds.id)[Symbol.asyncIterator]().next()).toMatchObject({
      done: true,
    });
  });

  it('reports UNAUTHENTICATED for a wrong key and FORBIDDEN for a weak one', async () => {
    const stranger = new QuarryClient({ url: t().url, apiKey: 'qk_not_a_key' });
    expect((await rejection(stranger.datasets.list())).code).toBe('UNAUTHENTICATED');
    const annotator = new QuarryClient({
      url: t().url,
      apiKey: await t().createKey(ApiKeyRole.ANNOTATOR),
    });
    const weak = await rejection(
      annotator.datasets.create({ name: 'sdk-not-allowed', classes: ['a', 'b'], featureDim: 1 }),
    );
    expect(weak.code).toBe('FORBIDDEN');
  });

  it('reports a server that cannot be reached as NETWORK_ERROR, after retrying reads', async () => {
    const nowhere = new QuarryClient({
      url: 'http://127.0.0.1:9/graphql',
      retry: { retries: 2, minDelayMs: 1, maxDelayMs: 5 },
    });
    let calls = 0;
    const counting = new QuarryClient({
      url: 'http://127.0.0.1:9/graphql',
      retry: { retries: 2, minDelayMs: 1, maxDelayMs: 5 },
      fetch: (input, init) => {
        calls++;
        return fetch(input, init);
      },
    });
    expect((await rejection(nowhere.datasets.list())).code).toBe('NETWORK_ERROR');
    await rejection(counting.datasets.list());
    expect(calls).toBe(3);
    calls = 0;
    await rejection(counting.datasets.create({ name: 'x', classes: ['a', 'b'], featureDim: 1 }));
    expect(calls).toBe(1);
  });

  it('imports in batches with progress, resumes with skipExisting, and pages items and labels', async () => {
    const ds = await client.datasets.create({
      name: 'sdk-pages',
      classes: ['a', 'b'],
      featureDim: 2,
    });
    const make = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, j) => ({
        externalId: `p-${from + j}`,
        features: [from + j, 1],
        label: (from + j) % 3 === 0 ? 'a' : undefined,
      }));
    const seen: number[] = [];
    const first = await client.items.import(ds.id, make(0, 250), {
      batchSize: 100,
      onProgress: (p) => seen.push(p.imported),
    });
    expect(first).toMatchObject({ imported: 250, batches: 3, skipped: 0, labelled: 84 });
    expect(seen).toEqual([100, 200, 250]);
    async function* stream() {
      yield* make(0, 300);
    }
    const resumed = await client.items.import(ds.id, stream(), {
      batchSize: 120,
      skipExisting: true,
    });
    expect(resumed).toMatchObject({ imported: 50, skipped: 250 });

    const ids: string[] = [];
    for await (const item of client.items.iterate(ds.id, {}, { pageSize: 70 }))
      ids.push(item.externalId);
    expect(ids).toEqual(make(0, 300).map((i) => i.externalId));
    let unlabelled = 0;
    for await (const _ of client.items.iterate(ds.id, { labelled: false }, { pageSize: 1000 }))
      unlabelled++;
    expect(unlabelled).toBe(200);

    const labels = [];
    for await (const label of client.labels.export(ds.id, {}, { pageSize: 30 })) labels.push(label);
    expect(labels).toHaveLength(100);
    expect(new Set(labels.map((l) => l.value))).toEqual(new Set(['a']));
  });

  it('iterates and exports 10,000 items and labels a page at a time, each exactly once', async () => {
    const n = 10_000;
    const d = await queueDataset(t(), 'sdk-10k', { items: n });
    let requests = 0;
    const counting = new QuarryClient({
      url: t().url,
      apiKey: t().adminKey,
      fetch: (input, init) => {
        requests++;
        return fetch(input, init);
      },
    });
    const itemIds = new Set<string>();
    for await (const item of counting.items.iterate(d, {}, { pageSize: 1000 }))
      itemIds.add(item.id);
    expect(itemIds.size).toBe(n);
    expect(requests).toBe(10);
    const written = await client.labels.write(
      d,
      Array.from({ length: n }, (_, i) => ({ externalId: `sdk-10k-${i}`, value: CLASSES[i % 3] })),
    );
    expect(written.labels).toHaveLength(n);
    const labelled = new Map<string, string>();
    for await (const label of client.labels.export(d, {}, { pageSize: 1000 })) {
      labelled.set(label.itemId, label.value);
    }
    expect(labelled.size).toBe(n);
    expect([...labelled.keys()].every((id) => itemIds.has(id))).toBe(true);
  }, 120_000);
});
