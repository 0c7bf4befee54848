/**
 * Stream throughput: 100,000 items x 128 float32 sent through `streamItems` (variable threshold,
 * a 128-64-10 MLP, a label budget) over HTTP in calls of 10,000, against a server in this
 * process, on PostgreSQL. Baseline, in the same run and the same database: the same items sent
 * through `importItems` in calls of the same size (storing them without scoring or deciding).
 *
 *   npm run build && node dist/bench/stream.js [items] [batch]
 *   QUARRY_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test to choose the server
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import os from 'node:os';
import { Client } from 'pg';
import { benchPgUrl } from './pg';
import { loadConfig } from '../src/config';
import { openDatabase } from '../src/db/database';
import { ApiKeyRole } from '../src/entities';
import { syntheticModel } from './synthetic';
import { startServer } from '../src/server';

const TOTAL = Number(process.argv[2] ?? 100_000);
const BATCH = Number(process.argv[3] ?? 10_000);
const DIM = 128;
const HIDDEN = 64;
const CLASSES = 10;

const model = (): Buffer =>
  syntheticModel({ inputDim: DIM, hidden: HIDDEN, classes: CLASSES, scale: 0.4, seed: 7 });

function makeBatches(prefix: string): { externalId: string; featuresBase64: string }[][] {
  const batches = [];
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let start = 0; start < TOTAL; start += BATCH) {
    const batch = [];
    for (let i = start; i < Math.min(TOTAL, start + BATCH); i++) {
      const v = new Float32Array(DIM);
      for (let j = 0; j < DIM; j++) v[j] = rand();
      batch.push({
        externalId: `${prefix}-${i}`,
        featuresBase64: Buffer.from(v.buffer).toString('base64'),
      });
    }
    batches.push(batch);
  }
  return batches;
}

async function run(databaseUrl: string): Promise<void> {
  const db = await openDatabase({ databaseUrl, dataDir: 'unused' });
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', dataDir: 'memory://', databaseUrl });
  const server = await startServer(config, { db, bootstrapAdminKey: false, runJobs: false });
  try {
    const { secret } = await server.services.apiKeys.create({
      name: 'bench',
      role: ApiKeyRole.SERVICE,
    });
    const url = `http://127.0.0.1:${server.port}/graphql`;
    const call = async (query: string, variables: object) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: any; errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    const dataset = async (name: string) =>
      (
        await call('mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', {
          i: {
            name,
            classes: Array.from({ length: CLASSES }, (_, c) => `c${c}`),
            featureDim: DIM,
            labelBudget: Math.round(TOTAL * 0.01),
          },
        })
      ).createDataset.id as string;

    const importBatches = makeBatches('i');
    const importDataset = await dataset('bench-import');
    const t0 = process.hrtime.bigint();
    for (const items of importBatches) {
      await call(
        'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
        { d: importDataset, items },
      );
    }
    const importSecs = Number(process.hrtime.bigint() - t0) / 1e9;

    const streamBatches = makeBatches('s');
    const streamDataset = await dataset('bench-stream');
    const { registerModel } = await call(
      'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "mlp", onnxBase64: $b) { id } }',
      { d: streamDataset, b: model().toString('base64') },
    );
    const counts = { QUERIED: 0, AUTO_LABELED: 0, DEFERRED: 0 };
    const t1 = process.hrtime.bigint();
    for (const items of streamBatches) {
      const { streamItems } = await call(
        `mutation($d: ID!, $m: ID!, $items: [ImportItemInput!]!, $p: StreamPolicyInput!) {
          streamItems(datasetId: $d, modelId: $m, items: $items, policy: $p) {
            queriedCount autoLabeledCount deferredCount decisions { decision } } }`,
        {
          d: streamDataset,
          m: registerModel.id,
          items,
          p: { code: 'variable-threshold', params: { budgetShare: 0.01 } },
        },
      );
      counts.QUERIED += streamItems.queriedCount;
      counts.AUTO_LABELED += streamItems.autoLabeledCount;
      counts.DEFERRED += streamItems.deferredCount;
    }
    const streamSecs = Number(process.hrtime.bigint() - t1) / 1e9;

    const stream = TOTAL / streamSecs;
    const base = TOTAL / importSecs;
    console.log(
      `PostgreSQL streamItems: ${Math.round(stream).toLocaleString('en')} items/s decided (${streamSecs.toFixed(2)} s;` +
        ` ${counts.QUERIED} queried, ${counts.AUTO_LABELED} auto-labelled, ${counts.DEFERRED} deferred)` +
        ` | baseline importItems: ${Math.round(base).toLocaleString('en')} items/s (${importSecs.toFixed(2)} s)` +
        ` | ratio ${(stream / base).toFixed(2)}`,
    );
  } finally {
    await server.stop();
    await db.close();
  }
}

async function main(): Promise<void> {
  console.log(
    `Stream benchmark: ${TOTAL.toLocaleString('en')} items x ${DIM} float32, calls of ${BATCH.toLocaleString('en')}, model ${DIM}-${HIDDEN}-${CLASSES}, ${os.cpus().length} cores, Node ${process.version}`,
  );
  const admin = await benchPgUrl();
  if (!admin) {
    console.log('PostgreSQL not reachable: skipped');
    return;
  }
  const name = `quarry_bench_${crypto.randomBytes(4).toString('hex')}`;
  const c = new Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  try {
    const u = new URL(admin);
    u.pathname = `/${name}`;
    await run(u.toString());
  } finally {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
