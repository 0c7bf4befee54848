import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiKeyRole } from '../../src/entities';
import {
  closeAll,
  openSegments,
  readExactly,
  SegmentWriter,
} from '../../src/jobs/feature-segments';
import { OWNER_FILE, sweepFeatureCache } from '../../src/jobs/feature-housekeeping';
import { describeEachDb, startTestServer, type TestServer } from '../helpers/server';
import { backends } from '../helpers/db';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';
import { testModel } from '../helpers/models';
import { gqlTo, serve, stopProcess, type Served } from '../helpers/process';
import { waitFor } from '../helpers/wait-for';
import { withQueryList } from '../helpers/queues';

const START = `mutation($i: StartRoundInput!) { startRound(input: $i) { id } }`;
const ROUND = `query($id: ID!) { round(id: $id) {
  status error progress { scored total } queries(first: 1000) { edges { node { score item { id } } } }
} }`;
const IMPORT =
  'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }';

const fcRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-feature-cache-spec-'));
afterAll(() => fs.rmSync(fcRoot, { recursive: true, force: true }));

/** The cached segment files of a dataset, with their sizes. */
function segments(root: string, datasetId: string): { file: string; size: number }[] {
  const dir = path.join(root, datasetId);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.seg'))
    .sort()
    .map((n) => ({ file: path.join(dir, n), size: fs.statSync(path.join(dir, n)).size }));
}

async function createDataset(t: TestServer, name: string): Promise<string> {
  const { createDataset } = await t.ok(
    'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
    { i: { name, classes: DIGIT_CLASSES, featureDim: 64 } },
  );
  return createDataset.id;
}

/** Imports digits rows [from, to), features transformed by `f`; every 18th arrives labelled. */
function digitItems(from: number, to: number, f: (x: number) => number = (x) => x) {
  const digits = loadDigits();
  return digits.features.slice(from, to).map((v, k) => ({
    externalId: `d${from + k}`,
    featuresBase64: f32base64(v.map(f)),
    label: (from + k) % 18 === 0 ? digits.labels[from + k] : null,
  }));
}

async function register(t: TestServer, d: string): Promise<string> {
  const { registerModel } = await t.ok(
    'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id } }',
    { d, b: testModel({ seed: 1 }).toString('base64') },
  );
  return registerModel.id;
}

interface Opened {
  id: string;
  picks: string[];
  scores: number[];
  total: number;
}

/** Runs a margin round of `size` to OPEN; its picks in rank order. */
async function margin(t: TestServer, d: string, model: string, size: number): Promise<Opened> {
  const { startRound } = await t.ok(START, {
    i: { datasetId: d, strategy: 'margin', size, modelIds: [model] },
  });
  const round = await waitFor(async () => (await t.ok(ROUND, { id: startRound.id })).round, {
    until: (r) => !['QUEUED', 'SCORING', 'SELECTING'].includes(r.status),
    timeoutMs: 60_000,
    what: 'the round to open',
  });
  expect(round.error).toBeNull();
  expect(round.status).toBe('OPEN');
  return {
    id: startRound.id,
    picks: withQueryList(round).queries.map((q: { item: { id: string } }) => q.item.id),
    scores: withQueryList(round).queries.map((q: { score: number }) => q.score),
    total: round.progress.total,
  };
}

async function cancel(t: TestServer, id: string): Promise<void> {
  await t.ok('mutation($id: ID!) { cancelRound(id: $id) { status } }', { id });
}

/** The pool as the SQL rule counts it: unlabelled POOL items in no open query. */
async function eligibleCount(t: TestServer, d: string): Promise<number> {
  const [{ n }] = await t.sql(
    `SELECT count(*)::int AS n FROM item i WHERE i.dataset_id = $1 AND i.split = 'POOL'
     AND NOT EXISTS (SELECT 1 FROM label l WHERE l.item_id = i.id AND l.superseded_at IS NULL)
     AND NOT EXISTS (SELECT 1 FROM label_query q WHERE q.item_id = i.id AND q.status IN ('OPEN', 'NEEDS_REVIEW'))`,
    [d],
  );
  return n;
}

describeEachDb(
  'the feature cache of rounds',
  (t) => {
    let d: string;
    let model: string;

    beforeAll(async () => {
      d = await createDataset(t(), `cache-${t().backend}`);
      await t().ok(IMPORT, { d, items: digitItems(0, 600) });
      model = await register(t(), d);
    });

    it('is written by the first round and serves the next with the same picks, labelled and queued items left out', async () => {
      expect(segments(fcRoot, d)).toEqual([]);
      const cold = await margin(t(), d, model, 25);
      expect(segments(fcRoot, d)).toHaveLength(1);
      await cancel(t(), cold.id);
      const warm = await margin(t(), d, model, 25);
      expect(warm.picks).toEqual(cold.picks);
      expect(warm.scores).toEqual(cold.scores);
      // A second round passes over the first one's open queries and over new labels.
      await t().ok(
        'mutation($d: ID!, $l: [LabelItemInput!]!) { labelItems(datasetId: $d, labels: $l) { labels { id } } }',
        { d, l: [{ itemId: warm.picks[0], value: '3' }] },
      );
      const expectedTotal = await eligibleCount(t(), d);
      const next = await margin(t(), d, model, 25);
      expect(next.total).toBe(expectedTotal);
      for (const id of next.picks) expect(warm.picks).not.toContain(id);
      const labelled = await t().sql(
        `SELECT item_id::text AS id FROM label WHERE dataset_id = $1 AND superseded_at IS NULL`,
        [d],
      );
      for (const { id } of labelled) expect(next.picks).not.toContain(id);
      await cancel(t(), next.id);
      await cancel(t(), warm.id);
    });

    it('is the pool of auto-label runs too: a run on a dataset no round read writes it, and labels every eligible item', async () => {
      const fresh = await createDataset(t(), `cache-autolabel-${t().backend}`);
      await t().ok(IMPORT, { d: fresh, items: digitItems(0, 300) });
      const m = await register(t(), fresh);
      expect(segments(fcRoot, fresh)).toEqual([]);
      const { autoLabel } = await t().ok(
        'mutation($i: AutoLabelInput!) { autoLabel(input: $i) { id } }',
        // Ten classes: every top probability is at least 0.1.
        { i: { datasetId: fresh, modelId: m, threshold: 0.1, auditRate: 0 } },
      );
      const done = await waitFor(
        async () =>
          (
            await t().ok(
              'query($id: ID!) { autoLabelRun(id: $id) { status error scoredCount labelledCount } }',
              { id: autoLabel.id },
            )
          ).autoLabelRun,
        { until: (r) => !['QUEUED', 'RUNNING'].includes(r.status), what: 'the auto-label run' },
      );
      // Every 18th item arrived labelled (17 of 300): the other 283 are the pool.
      expect(done).toMatchObject({
        status: 'SUCCEEDED',
        error: null,
        scoredCount: 283,
        labelledCount: 283,
      });
      expect(segments(fcRoot, fresh)).toHaveLength(1);
    });

    it('survives a truncated file: the round reads the database and writes the file again', async () => {
      const before = await margin(t(), d, model, 20);
      await cancel(t(), before.id);
      const [seg] = segments(fcRoot, d);
      fs.truncateSync(seg.file, Math.floor(seg.size / 2));
      const after = await margin(t(), d, model, 20);
      expect(after.picks).toEqual(before.picks);
      expect(segments(fcRoot, d)).toEqual([seg]);
      await cancel(t(), after.id);
    });

    it("never serves another dataset's vectors, even under its name", async () => {
      // Same dimension, same count, other vectors: the other dataset's file must not be used.
      const other = await createDataset(t(), `cache-other-${t().backend}`);
      await t().ok(IMPORT, { d: other, items: digitItems(0, 600, (x) => 16 - x) });
      const otherModel = await register(t(), other);
      const own = await margin(t(), other, otherModel, 20);
      await cancel(t(), own.id);
      const ownFiles = segments(fcRoot, other);
      for (const s of ownFiles) fs.rmSync(s.file);
      // d's segment, renamed to the other dataset's ids and put in its folder.
      const [foreign] = segments(fcRoot, d);
      const ids = path.basename(ownFiles[0].file);
      fs.copyFileSync(foreign.file, path.join(fcRoot, other, ids));
      const again = await margin(t(), other, otherModel, 20);
      expect(again.picks).toEqual(own.picks);
      expect(again.scores).toEqual(own.scores);
      expect(segments(fcRoot, other).map((s) => s.size)).toEqual(ownFiles.map((s) => s.size));
      const header = fs.readFileSync(segments(fcRoot, other)[0].file).subarray(8, 24);
      expect(header.toString('hex')).toBe(other.replace(/-/g, ''));
      await cancel(t(), again.id);
    });

    it('takes in items imported after it was written, in a new segment', async () => {
      const first = await margin(t(), d, model, 10);
      await cancel(t(), first.id);
      const filesBefore = segments(fcRoot, d).length;
      await t().ok(IMPORT, { d, items: digitItems(600, 700) });
      const expectedTotal = await eligibleCount(t(), d);
      const after = await margin(t(), d, model, 10);
      expect(after.total).toBe(expectedTotal);
      expect(segments(fcRoot, d)).toHaveLength(filesBefore + 1);
      await cancel(t(), after.id);
    });

    it('compacts more than eight segments into one, serving the same picks', async () => {
      const before = await margin(t(), d, model, 15);
      await cancel(t(), before.id);
      // Split what is cached into nine segments, as nine imports between rounds would leave.
      const head = fs.readFileSync(segments(fcRoot, d)[0].file).subarray(0, 64);
      const expect_ = { datasetId: d, createdMs: head.readDoubleLE(24), dim: 64 };
      const dir = path.join(fcRoot, d);
      const chain = await openSegments(dir, expect_);
      const rows = chain.reduce((n, s) => n + s.header.rows, 0);
      const ids = new BigInt64Array(rows);
      const features = new Float32Array(rows * 64);
      let at = 0;
      for (const s of chain) {
        ids.set(s.ids, at);
        const bytes = new Uint8Array(features.buffer, at * 64 * 4, s.header.rows * 64 * 4);
        await readExactly(s.file, bytes, 64);
        at += s.header.rows;
      }
      await closeAll(chain);
      for (const f of segments(fcRoot, d)) fs.rmSync(f.file);
      const per = Math.ceil(rows / 9);
      for (let start = 0; start < rows; start += per) {
        const n = Math.min(per, rows - start);
        const w = await SegmentWriter.create(dir, expect_);
        await w.add({
          ids: ids.slice(start, start + n),
          features: features.slice(start * 64, (start + n) * 64),
          rows: n,
          dim: 64,
        });
        await (await w.commit())?.file.close();
      }
      expect(segments(fcRoot, d)).toHaveLength(9);

      const after = await margin(t(), d, model, 15);
      expect(after.picks).toEqual(before.picks);
      expect(after.scores).toEqual(before.scores);
      const [one] = segments(fcRoot, d);
      expect(segments(fcRoot, d)).toHaveLength(1);
      expect(one.size).toBe(64 + rows * (64 * 4 + 8));
      await cancel(t(), after.id);
    });

    it("removes a deleted dataset's files, and no other database's", async () => {
      const gone = await createDataset(t(), `cache-gone-${t().backend}`);
      await t().ok(IMPORT, { d: gone, items: digitItems(0, 200) });
      const goneModel = await register(t(), gone);
      await cancel(t(), (await margin(t(), gone, goneModel, 5)).id);
      expect(segments(fcRoot, gone)).toHaveLength(1);
      // Another database's dataset in the same directory, and an unmarked one: never swept.
      const foreign = path.join(fcRoot, '00000000-0000-4000-8000-000000000001');
      const unmarked = path.join(fcRoot, '00000000-0000-4000-8000-000000000002');
      for (const dir of [foreign, unmarked]) {
        fs.mkdirSync(dir, { recursive: true });
        fs.copyFileSync(segments(fcRoot, gone)[0].file, path.join(dir, '1-1.seg'));
      }
      fs.writeFileSync(path.join(foreign, OWNER_FILE), 'another:database:public');

      await t().sql('DELETE FROM dataset WHERE id = $1', [gone]);
      // What a process does at start-up.
      expect(await sweepFeatureCache(fcRoot, t().server.db)).toEqual([gone]);
      expect(fs.existsSync(path.join(fcRoot, gone))).toBe(false);
      expect(fs.existsSync(path.join(foreign, '1-1.seg'))).toBe(true);
      expect(fs.existsSync(path.join(unmarked, '1-1.seg'))).toBe(true);
      expect(segments(fcRoot, d).length).toBeGreaterThan(0);
      for (const dir of [foreign, unmarked]) fs.rmSync(dir, { recursive: true });
    });
  },
  { featureCacheDir: fcRoot, roundChunkRows: 128 },
);

/** With the cache off, rounds read the database as before and write no file. */
describeEachDb(
  'rounds with the feature cache off',
  (t) => {
    it('opens a round and writes no cache file', async () => {
      const d = await createDataset(t(), `nocache-${t().backend}`);
      await t().ok(IMPORT, { d, items: digitItems(0, 300) });
      const model = await register(t(), d);
      const r = await margin(t(), d, model, 10);
      expect(r.total).toBe((await eligibleCount(t(), d)) + 10);
      expect(fs.existsSync(path.join(fcRoot, d))).toBe(false);
      expect(fs.existsSync(path.join(os.tmpdir(), 'quarry-feature-cache', d))).toBe(false);
    });
  },
  { featureCacheDir: null },
);

if (backends().includes('postgres')) {
  describe('the feature cache with two processes on one PostgreSQL database', () => {
    let a: Awaited<ReturnType<typeof startTestServer>>;
    let b: Served | undefined;
    const dirA = path.join(fcRoot, 'process-a');
    const dirB = path.join(fcRoot, 'process-b');

    beforeAll(async () => {
      a = await startTestServer('postgres', { featureCacheDir: dirA, roundChunkRows: 128 });
    }, 120_000);

    afterAll(async () => {
      if (b) await stopProcess(b);
      await a?.stop();
    }, 60_000);

    it('is brought up to date by an import made by another process, with the new items in the pool', async () => {
      const d = await createDataset(a, 'two-processes');
      await a.ok(IMPORT, { d, items: digitItems(0, 400) });
      const model = await register(a, d);
      // A runs the rounds (B, which would take round jobs too, runs only while it imports).
      const first = await margin(a, d, model, 10);
      await cancel(a, first.id);
      expect(segments(dirA, d)).toHaveLength(1);
      const key = await a.createKey(ApiKeyRole.ADMIN);
      b = await serve({
        DATABASE_URL: a.databaseUrl,
        QUARRY_DATA_DIR: path.join(fcRoot, 'b-data'),
        QUARRY_FEATURE_CACHE_DIR: dirB,
        QUARRY_INFERENCE_THREADS: '1',
      });
      // Items that are most uncertain for the model: the mean of two digits of other classes.
      const digits = loadDigits();
      const blends = Array.from({ length: 40 }, (_, k) => ({
        externalId: `blend${k}`,
        featuresBase64: f32base64(
          digits.features[k].map((x, j) => (x + digits.features[k + 1][j]) / 2),
        ),
      }));
      await gqlTo(b, key, IMPORT, { d, items: blends });
      await stopProcess(b);
      b = undefined;
      const expectedTotal = await eligibleCount(a, d);
      const [{ n: added }] = await a.sql(
        `SELECT count(*)::int AS n FROM item WHERE dataset_id = $1 AND external_id LIKE 'blend%'`,
        [d],
      );
      expect(added).toBe(40);
      const after = await margin(a, d, model, 10);
      expect(after.total).toBe(expectedTotal);
      expect(segments(dirA, d)).toHaveLength(2);
      // The reference: the same round on the database alone (A's cache removed).
      await cancel(a, after.id);
      fs.rmSync(path.join(dirA, d), { recursive: true, force: true });
      fs.rmSync(path.join(dirB, d), { recursive: true, force: true });
      const reference = await margin(a, d, model, 10);
      expect(after.picks).toEqual(reference.picks);
    }, 120_000);
  });
}
