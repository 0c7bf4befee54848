/**
 * Import throughput: 100,000 items of 64 float32 through `importItems` (base64 features,
 * batches of 10,000) over HTTP, on the embedded database and on PostgreSQL when reachable.
 * Baseline, in the same run: the same rows written by one bare `INSERT ... SELECT unnest(...)`
 * per batch straight into the same database (no HTTP, no GraphQL, no validation): the limit.
 *
 *   npm run bench            # or: node dist/bench/import.js [items] [batch]
 *   QUARRY_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test to choose the server
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { benchPgUrl } from './pg';
import { loadConfig } from '../src/config';
import { openDatabase, type Database } from '../src/db/database';
import { ApiKeyRole } from '../src/entities';
import { startServer } from '../src/server';

const TOTAL = Number(process.argv[2] ?? 100_000);
const BATCH = Number(process.argv[3] ?? 10_000);
const DIM = 64;

function makeBatches(): { externalId: string; featuresBase64: string }[][] {
  const batches = [];
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let start = 0; start < TOTAL; start += BATCH) {
    const batch = [];
    for (let i = start; i < Math.min(TOTAL, start + BATCH); i++) {
      const v = new Float32Array(DIM);
      for (let j = 0; j < DIM; j++) v[j] = rand();
      batch.push({
        externalId: `item-${i}`,
        featuresBase64: Buffer.from(v.buffer).toString('base64'),
      });
    }
    batches.push(batch);
  }
  return batches;
}

async function viaApi(db: Database, batches: ReturnType<typeof makeBatches>): Promise<number> {
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', dataDir: 'memory://' });
  const server = await startServer(config, { db, bootstrapAdminKey: false });
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
    const { createDataset } = await call(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { name: 'bench-api', classes: ['a', 'b'], featureDim: DIM } },
    );
    const t0 = process.hrtime.bigint();
    for (const items of batches) {
      await call(
        'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
        {
          d: createDataset.id,
          items,
        },
      );
    }
    return Number(process.hrtime.bigint() - t0) / 1e9;
  } finally {
    await server.stop();
  }
}

async function rawSql(db: Database, batches: ReturnType<typeof makeBatches>): Promise<number> {
  const [{ id }] = await db.ds.query(
    "INSERT INTO dataset (name, classes, feature_dim) VALUES ('bench-raw', '{a,b}', $1) RETURNING id",
    [DIM],
  );
  const t0 = process.hrtime.bigint();
  for (const items of batches) {
    await db.ds.query(
      `INSERT INTO item (dataset_id, external_id, payload, features, split, origin)
       SELECT $1, t.e, '{}', t.f, 'POOL', 'IMPORTED' FROM unnest($2::text[], $3::bytea[]) AS t(e, f)`,
      [
        id,
        items.map((i) => i.externalId),
        items.map((i) => Buffer.from(i.featuresBase64, 'base64')),
      ],
    );
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function report(name: string, apiSecs: number, rawSecs: number): void {
  const api = TOTAL / apiSecs;
  const raw = TOTAL / rawSecs;
  console.log(
    `${name.padEnd(10)} importItems over HTTP: ${Math.round(api).toLocaleString('en')} items/s (${apiSecs.toFixed(2)} s)` +
      ` | baseline raw SQL insert: ${Math.round(raw).toLocaleString('en')} items/s (${rawSecs.toFixed(2)} s)` +
      ` | ratio ${(api / raw).toFixed(2)}`,
  );
}

async function main(): Promise<void> {
  console.log(
    `Import benchmark: ${TOTAL.toLocaleString('en')} items x ${DIM} float32, batches of ${BATCH.toLocaleString('en')}, ${os.cpus().length} cores, Node ${process.version}`,
  );
  const batches = makeBatches();

  const dirs: string[] = [];
  const pglite = async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-bench-'));
    dirs.push(dir);
    return openDatabase({ dataDir: dir });
  };
  try {
    let db = await pglite();
    const apiSecs = await viaApi(db, batches);
    await db.close();
    db = await pglite();
    const rawSecs = await rawSql(db, batches);
    await db.close();
    report('PGlite', apiSecs, rawSecs);
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }

  const admin = await benchPgUrl();
  if (!admin) {
    console.log('PostgreSQL  not reachable: skipped');
    return;
  }
  const name = `quarry_bench_${crypto.randomBytes(4).toString('hex')}`;
  const c = new Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  try {
    const u = new URL(admin);
    u.pathname = `/${name}`;
    const db = await openDatabase({ databaseUrl: u.toString(), dataDir: 'unused' });
    try {
      const apiSecs = await viaApi(db, batches);
      await db.ds.query('TRUNCATE item, dataset CASCADE');
      const rawSecs = await rawSql(db, batches);
      report('PostgreSQL', apiSecs, rawSecs);
    } finally {
      await db.close();
    }
  } finally {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
