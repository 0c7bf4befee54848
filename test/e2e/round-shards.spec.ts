/**
 * Sharded rounds through the API, on both databases (one process here: the shards run as jobs of
 * this server, one after another). Two processes sharing PostgreSQL, and one of them killed
 * mid-shard, are in round-shards-processes.spec.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';
import { testModel } from '../helpers/models';
import { waitFor } from '../helpers/wait-for';
import { withQueryList } from '../helpers/queues';

const START = `mutation($i: StartRoundInput!) { startRound(input: $i) { id shards selectionMethod } }`;
const ROUND = `query($id: ID!) { round(id: $id) {
  id status error shards selectionMethod progress { scored total }
  queries(first: 1000) { edges { node { rank score item { id } } } } } }`;
const RUNNING = ['QUEUED', 'SCORING', 'SELECTING'];

interface Pick {
  rank: number;
  score: number;
  item: { id: string };
}

async function settle(t: TestServer, id: string): Promise<any> {
  return waitFor(async () => withQueryList((await t.ok(ROUND, { id })).round), {
    until: (round) => !RUNNING.includes(round.status),
    timeoutMs: 90_000,
    what: `round ${id} to open`,
  });
}

/** Runs a round to OPEN and returns it; then cancels it, so that its items are free again. */
async function roundOf(t: TestServer, input: Record<string, unknown>): Promise<any> {
  const { startRound } = await t.ok(START, { i: input });
  const round = await settle(t, startRound.id);
  expect(round.error).toBeNull();
  expect(round.status).toBe('OPEN');
  await t.ok('mutation($id: ID!) { cancelRound(id: $id) { status } }', { id: startRound.id });
  return round;
}

async function dataset(t: TestServer, name: string, rows: number): Promise<string> {
  const { createDataset } = await t.ok(
    'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
    { i: { name, classes: DIGIT_CLASSES, featureDim: 64 } },
  );
  const digits = loadDigits();
  await t.ok(
    'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
    {
      d: createDataset.id,
      items: digits.features.slice(0, rows).map((f, i) => ({
        externalId: `d${i}`,
        featuresBase64: f32base64(f),
        label: i % 18 === 0 ? digits.labels[i] : null,
      })),
    },
  );
  return createDataset.id;
}

async function model(t: TestServer, d: string): Promise<string> {
  const { registerModel } = await t.ok(
    'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id } }',
    { d, b: testModel({ seed: 1 }).toString('base64') },
  );
  return registerModel.id;
}

const shardRows = (t: TestServer, roundId: string) =>
  t.sql<{
    shard_index: number;
    after_id: string;
    last_id: string | null;
    status: string;
    proposal: any[];
  }>(
    `SELECT shard_index, after_id::text, last_id::text, status, proposal
     FROM round_shard WHERE round_id = $1 ORDER BY shard_index`,
    [roundId],
  );

const cacheDirs: string[] = [];
afterAll(() => cacheDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

for (const cache of ['no feature cache', 'feature cache'] as const) {
  const featureCacheDir =
    cache === 'feature cache'
      ? cacheDirs[cacheDirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-shards-'))) - 1]
      : null;
  describeEachDb(
    `sharded rounds, ${cache}`,
    (t) => {
      let d: string;
      let m: string;

      beforeAll(async () => {
        d = await dataset(t(), 'digits', 1797);
        m = await model(t(), d);
      }, 60_000);

      it('picks the same items, in the same order and with the same scores, in 3 shards as in one process (margin)', async () => {
        const one = await roundOf(t(), {
          datasetId: d,
          strategy: 'margin',
          size: 60,
          modelIds: [m],
        });
        expect(one).toMatchObject({ shards: 1, selectionMethod: 'SINGLE_PROCESS' });
        const three = await roundOf(t(), {
          datasetId: d,
          strategy: 'margin',
          size: 60,
          modelIds: [m],
          shards: 3,
        });
        expect(three).toMatchObject({ shards: 3, selectionMethod: 'SHARDED_TOP_N' });
        const picks = (r: any) => r.queries.map((q: Pick) => [q.rank, q.item.id, q.score]);
        expect(picks(three)).toHaveLength(60);
        expect(picks(three)).toEqual(picks(one));
        const shards = await shardRows(t(), three.id);
        expect(shards.map((s) => s.status)).toEqual(['DONE', 'DONE', 'DONE']);
        // Three slices of the pool, in id order, the last one open-ended.
        expect(shards[0].after_id).toBe('0');
        expect(BigInt(shards[1].after_id)).toBe(BigInt(shards[0].last_id!));
        expect(BigInt(shards[2].after_id)).toBe(BigInt(shards[1].last_id!));
        expect(shards[2].last_id).toBeNull();
        expect(three.progress.scored).toBe(three.progress.total);
      }, 120_000);

      it('merges k-center in two stages: N distinct picks, each proposed by the shard whose range holds it', async () => {
        const round = await roundOf(t(), {
          datasetId: d,
          strategy: 'k-center',
          size: 30,
          modelIds: [m],
          shards: 4,
        });
        expect(round).toMatchObject({ shards: 4, selectionMethod: 'SHARDED_TWO_STAGE' });
        const ids = round.queries.map((q: Pick) => q.item.id);
        expect(ids).toHaveLength(30);
        expect(new Set(ids).size).toBe(30);
        const shards = await shardRows(t(), round.id);
        const proposed = new Set<string>();
        for (const s of shards) {
          expect(s.proposal).toHaveLength(30);
          for (const p of s.proposal) {
            expect(BigInt(p.itemId)).toBeGreaterThan(BigInt(s.after_id));
            if (s.last_id !== null) expect(BigInt(p.itemId)).toBeLessThanOrEqual(BigInt(s.last_id));
            proposed.add(p.itemId);
          }
        }
        for (const id of ids) expect(proposed.has(id)).toBe(true);
      }, 120_000);

      it('gives a pool smaller than QUARRY_ROUND_SHARD_MIN_ROWS per shard fewer shards, down to one process', async () => {
        const small = await dataset(t(), 'small', 250);
        const sm = await model(t(), small);
        const two = await roundOf(t(), {
          datasetId: small,
          strategy: 'entropy',
          size: 10,
          modelIds: [sm],
          shards: 8,
        });
        expect(two).toMatchObject({ shards: 2, selectionMethod: 'SHARDED_TOP_N' });
        expect(two.queries).toHaveLength(10);
        const tiny = await dataset(t(), 'tiny', 150);
        const tm = await model(t(), tiny);
        const one = await roundOf(t(), {
          datasetId: tiny,
          strategy: 'entropy',
          size: 10,
          modelIds: [tm],
          shards: 8,
        });
        expect(one).toMatchObject({ shards: 1, selectionMethod: 'SINGLE_PROCESS' });
        expect(one.queries).toHaveLength(10);
        expect(await shardRows(t(), one.id)).toEqual([]);
      }, 120_000);

      it("fails the round with a shard's message when the shard cannot be scored, and opens no query", async () => {
        // 2 shards of ~900 rows exceed QUARRY_MAX_SELECTION_BYTES (200 kB here) for a whole-range
        // k-center; the 4 shards of the test above (~450 rows each) stay under it.
        const { startRound } = await t().ok(START, {
          i: { datasetId: d, strategy: 'k-center', size: 10, modelIds: [m], shards: 2 },
        });
        const round = await settle(t(), startRound.id);
        expect(round.status).toBe('FAILED');
        expect(round.error).toMatch(
          /^Shard [12] of 2 failed: The pool is too large for "k-center"/,
        );
        expect(round.queries).toEqual([]);
        const [{ n }] = await t().sql(
          'SELECT count(*)::int AS n FROM label_query WHERE round_id = $1',
          [startRound.id],
        );
        expect(n).toBe(0);
      }, 120_000);

      it('refuses shards outside 1..256 with BAD_USER_INPUT and starts nothing', async () => {
        const [{ n: before }] = await t().sql('SELECT count(*)::int AS n FROM round');
        for (const shards of [0, -1, 257]) {
          const res = await t().gql(START, {
            i: { datasetId: d, strategy: 'margin', size: 5, modelIds: [m], shards },
          });
          expect(codeOf(res)).toBe('BAD_USER_INPUT');
          expect(JSON.stringify(res.errors)).toContain('shards');
        }
        const [{ n: after }] = await t().sql('SELECT count(*)::int AS n FROM round');
        expect(after).toBe(before);
      });
    },
    { roundShardMinRows: 100, roundChunkRows: 128, featureCacheDir, maxSelectionBytes: 200_000 },
  );
}
