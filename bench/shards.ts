/**
 * Sharded rounds on PostgreSQL: a `margin` round of 1,000 over 200,000 items x 128 float32 (the
 * MLP of bench/rounds.ts), from startRound to OPEN over HTTP, printed in one run for:
 *   (1) one process, one shard (the default: the baseline),
 *   (2) one process, 2 shards (the cost of cutting and merging alone),
 *   (3) two processes sharing the database, 2 shards (scale-out).
 * Each is run twice, cold then warm (the second reads its vectors from the process's feature
 * cache; a process joining in (3) starts cold). Every round is cancelled after it opens, so each
 * one sees the same pool. Both processes run on this machine: with every inference thread busy
 * in one process already, (3) shows the overhead of spreading a round, not the speed-up of a
 * second machine. Planner statistics are left to Quarry, as on a user's fresh pool.
 *
 *   node dist/bench/shards.js [items]   (part of npm run bench:rounds)
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { benchPgUrl } from './pg';
import { POOL, poolFeatures, poolModel } from './synthetic';
import { QUARRY, spawnServer, stopServer, type ServerProcess } from './server';

const ITEMS = Number(process.argv[2] ?? 200_000);
const { dim: DIM, classes: CLASSES } = POOL;

const model = poolModel;
const features = poolFeatures;

async function main(): Promise<void> {
  console.log(
    `Sharded rounds: margin 1,000 of ${ITEMS.toLocaleString('en')} x ${DIM}, ${os.availableParallelism()} cores, inference threads per process: cores`,
  );
  const admin = await benchPgUrl();
  if (!admin) throw new Error('This benchmark needs PostgreSQL (set QUARRY_BENCH_PG_URL).');
  const name = `quarry_bench_${crypto.randomBytes(4).toString('hex')}`;
  const c = new Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-bench-shards-'));
  const u = new URL(admin);
  u.pathname = `/${name}`;
  const env = (who: string): NodeJS.ProcessEnv => ({
    DATABASE_URL: u.toString(),
    QUARRY_DATA_DIR: path.join(dir, who, 'data'),
    QUARRY_MODEL_CACHE_DIR: path.join(dir, who, 'models'),
    QUARRY_FEATURE_CACHE_DIR: path.join(dir, who, 'features'),
    QUARRY_JOB_POLLING_SECONDS: '1',
    QUARRY_ROUND_SHARD_MIN_ROWS: '10000',
  });
  const servers: ServerProcess[] = [];
  try {
    execFileSync(process.execPath, [QUARRY, 'migrate'], {
      env: { ...process.env, ...env('a') },
      stdio: 'ignore',
    });
    const key = execFileSync(
      process.execPath,
      [QUARRY, 'keys', 'create', '--name', 'bench', '--role', 'ADMIN'],
      { env: { ...process.env, ...env('a') } },
    )
      .toString()
      .trim();
    const a = await spawnServer(env('a'));
    servers.push(a);
    const gql = async (query: string, variables: Record<string, unknown> = {}) => {
      const res = await fetch(a.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: any; errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    const { createDataset } = await gql(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      {
        i: {
          name: 'bench-shards',
          classes: Array.from({ length: CLASSES }, (_, k) => String(k)),
          featureDim: DIM,
        },
      },
    );
    const d = createDataset.id;
    let t0 = Date.now();
    for (let s = 0; s < ITEMS; s += 10_000) {
      const rows = Math.min(10_000, ITEMS - s);
      const f = features(s, rows);
      await gql(
        'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
        {
          d,
          items: Array.from({ length: rows }, (_, i) => ({
            externalId: `i${s + i}`,
            featuresBase64: Buffer.from(f.buffer, i * DIM * 4, DIM * 4).toString('base64'),
          })),
        },
      );
    }
    console.log(`    (setup: imported in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    const { registerModel } = await gql(
      'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "mlp", onnxBase64: $b) { id } }',
      { d, b: model().toString('base64') },
    );

    const round = async (shards: number) => {
      const start = Date.now();
      const { startRound } = await gql(
        'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }',
        {
          i: { datasetId: d, strategy: 'margin', size: 1000, modelIds: [registerModel.id], shards },
        },
      );
      for (;;) {
        const r = (
          await gql('query($id: ID!) { round(id: $id) { status error shards selectionMethod } }', {
            id: startRound.id,
          })
        ).round;
        if (r.status === 'OPEN') {
          const secs = (Date.now() - start) / 1000;
          await gql('mutation($id: ID!) { cancelRound(id: $id) { status } }', {
            id: startRound.id,
          });
          return { secs, method: `${r.selectionMethod}, ${r.shards} shard(s)` };
        }
        if (r.status === 'FAILED' || r.status === 'CANCELLED')
          throw new Error(`round ${r.status}: ${r.error}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    };
    const twice = async (label: string, shards: number) => {
      const cold = await round(shards);
      const warm = await round(shards);
      console.log(
        `${label} cold ${cold.secs.toFixed(2)} s, warm ${warm.secs.toFixed(2)} s (${warm.method})`,
      );
      return warm.secs;
    };
    t0 = Date.now();
    const one = await twice('(1) one process, 1 shard (baseline):  ', 1);
    const oneSharded = await twice('(2) one process, 2 shards:             ', 2);
    servers.push(await spawnServer(env('b')));
    const two = await twice('(3) two processes, 2 shards:          ', 2);
    console.log(
      `    warm ratios to (1): (2) ${(oneSharded / one).toFixed(2)}x, (3) ${(two / one).toFixed(2)}x`,
    );
  } finally {
    for (const s of servers) await stopServer(s);
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
