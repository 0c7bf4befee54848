/**
 * A sharded round on two `quarry serve` processes sharing one PostgreSQL database: the shards
 * are scored by both, and a shard whose process is killed (SIGKILL) mid-shard is retried by the
 * other once its heartbeat goes stale (not when its job expires); the round still opens with exactly its size in queries, the same as one process picks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { openDatabase } from '../../src/db/database';
import { ApiKeyRole } from '../../src/entities';
import { ApiKeyService } from '../../src/services/api-key.service';
import { backends, createEmptyPgDatabase } from '../helpers/db';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';
import { testModel } from '../helpers/models';
import { gqlTo, serveAll, stopProcess, type Served } from '../helpers/process';
import { withQueryList } from '../helpers/queues';
import { waitFor } from '../helpers/wait-for';

const SLOW_MARGIN = path.resolve(__dirname, '../fixtures/plugins/slow-margin.js');
const ROUND = `query($id: ID!) { round(id: $id) { status error shards selectionMethod
  queries(first: 100) { edges { node { rank score item { id } } } } } }`;

(backends().includes('postgres') ? describe : describe.skip)(
  'a sharded round on two processes [postgres]',
  () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-shard-procs-'));
    let pg: { url: string; drop: () => Promise<void> };
    let key: string;
    let sql: Client;
    const servers: Served[] = [];

    beforeAll(async () => {
      pg = await createEmptyPgDatabase();
      const db = await openDatabase({ databaseUrl: pg.url, dataDir: path.join(dir, 'unused') });
      try {
        key = (await new ApiKeyService(db.ds).create({ name: 'admin', role: ApiKeyRole.ADMIN }))
          .secret;
      } finally {
        await db.close();
      }
      sql = new Client({ connectionString: pg.url });
      await sql.connect();
    }, 60_000);

    afterAll(async () => {
      for (const s of servers) {
        if (s.child.exitCode === null && s.child.signalCode === null)
          await stopProcess(s, 'SIGKILL');
      }
      await sql?.end();
      await pg?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }, 60_000);

    it('retries the shard of a killed process on the other and opens with exactly N queries, the picks of one process', async () => {
      const env = (name: string): NodeJS.ProcessEnv => ({
        DATABASE_URL: pg.url,
        QUARRY_DATA_DIR: path.join(dir, name, 'data'),
        QUARRY_MODEL_CACHE_DIR: path.join(dir, name, 'models'),
        QUARRY_FEATURE_CACHE_DIR: path.join(dir, name, 'features'),
        QUARRY_INFERENCE_THREADS: '1',
        QUARRY_JOB_POLLING_SECONDS: '1',
        QUARRY_STRATEGY_MODULES: SLOW_MARGIN,
        // 150 ms per 20 rows: a shard of ~600 rows scores for about 4.5 s.
        QUARRY_ROUND_CHUNK_ROWS: '20',
        QUARRY_ROUND_SHARD_MIN_ROWS: '100',
        // Jobs expire after 10 minutes (the test gives up long before): the killed process's
        // shard is sent again because its heartbeat stops (stale after 30 s), not at expiry.
        QUARRY_ROUND_JOB_EXPIRE_SECONDS: '600',
      });
      const [a, b] = await serveAll([env('a'), env('b')]);
      servers.push(a, b);
      const { createDataset } = await gqlTo(
        a,
        key,
        'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
        { i: { name: 'digits', classes: DIGIT_CLASSES, featureDim: 64 } },
      );
      const d = createDataset.id;
      await gqlTo(
        a,
        key,
        'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
        {
          d,
          items: loadDigits().features.map((f, i) => ({
            externalId: `d${i}`,
            featuresBase64: f32base64(f),
          })),
        },
      );
      const { registerModel } = await gqlTo(
        a,
        key,
        'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id } }',
        { d, b: testModel().toString('base64') },
      );
      const input = {
        datasetId: d,
        strategy: 'slow-margin',
        size: 40,
        modelIds: [registerModel.id],
      };
      const start = async (shards: number) =>
        (
          await gqlTo(a, key, 'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }', {
            i: { ...input, shards },
          })
        ).startRound.id as string;
      const opened = (id: string) =>
        waitFor(async () => withQueryList((await gqlTo(a, key, ROUND, { id })).round), {
          until: (r) => !['QUEUED', 'SCORING', 'SELECTING'].includes(r.status),
          timeoutMs: 120_000,
          intervalMs: 200,
          what: `round ${id} to open`,
        });

      const sharded = await start(3);
      const runnerOf = (s: Served) => `${os.hostname()}:${s.child.pid}`;
      // Kill b while it scores a shard (not at its start: a chunk or more scored).
      const taken = await waitFor(
        async () =>
          (
            await sql.query(
              `SELECT shard_index, runner FROM round_shard WHERE round_id = $1 AND status = 'PENDING' AND runner = $2`,
              [sharded, runnerOf(b)],
            )
          ).rows,
        {
          until: (rows) => rows.length > 0,
          timeoutMs: 60_000,
          intervalMs: 50,
          what: 'b to take a shard',
        },
      );
      await new Promise((r) => setTimeout(r, 1000));
      await stopProcess(b, 'SIGKILL');
      const killedAt = Date.now();
      const round = await opened(sharded);
      // 30 s for the heartbeat to go stale, then the shard scored again (a few seconds).
      expect(Date.now() - killedAt).toBeLessThan(100_000);
      expect(round.error).toBeNull();
      expect(round).toMatchObject({ status: 'OPEN', shards: 3, selectionMethod: 'SHARDED_TOP_N' });
      expect(round.queries.map((q: { rank: number }) => q.rank)).toEqual(
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      const ids = round.queries.map((q: { item: { id: string } }) => q.item.id);
      expect(new Set(ids).size).toBe(40);
      const [{ n }] = (
        await sql.query(`SELECT count(*)::int AS n FROM label_query WHERE round_id = $1`, [sharded])
      ).rows;
      expect(n).toBe(40);
      // The killed shard was started again, and finished, by a.
      const [killed] = (
        await sql.query(
          `SELECT status, attempts, runner FROM round_shard WHERE round_id = $1 AND shard_index = $2`,
          [sharded, taken[0].shard_index],
        )
      ).rows;
      expect(killed).toMatchObject({ status: 'DONE', runner: runnerOf(a) });
      expect(killed.attempts).toBeGreaterThanOrEqual(2);

      // The same round in one process picks the same items.
      await gqlTo(a, key, 'mutation($id: ID!) { cancelRound(id: $id) { status } }', {
        id: sharded,
      });
      const single = await opened(await start(1));
      expect(single).toMatchObject({
        status: 'OPEN',
        shards: 1,
        selectionMethod: 'SINGLE_PROCESS',
      });
      expect(single.queries.map((q: { item: { id: string } }) => q.item.id)).toEqual(ids);
      await stopProcess(a);
    }, 240_000);
  },
);
