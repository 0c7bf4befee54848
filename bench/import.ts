/**
 * Import throughput: 100,000 items of 64 float32 through `importItems` (base64 features,
 * batches of 10,000) over HTTP, on the embedded database and on PostgreSQL when reachable.
 * Baseline, in the same run: the same rows written by one bare `INSERT ... SELECT unnest(...)`
 * per batch straight into the same database (no HTTP, no GraphQL, no validation): the limit.
 *
 * Fairness: both write the same rows (payload `{}`, POOL, IMPORTED) into the same `item` table,
 * with its indexes and triggers, one transaction per batch, into two datasets created alike.
 * Their batches alternate (raw first on even batches, Quarry first on odd ones), so both meet the
 * same table sizes, checkpoints and neighbours' load. The request bodies are serialised before
 * the clock starts (a client's work, not Quarry's), as the baseline's arrays are built before
 * its clock. The bench leaves planner statistics to Quarry, as a user's import would.
 *
 *   npm run bench            # or: node dist/bench/import.js [items] [batch]
 *   QUARRY_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test to choose the server
 *   QUARRY_BENCH_EMBEDDED=0 to skip the embedded database
 */
import './production-env';
import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
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

type Batches = ReturnType<typeof makeBatches>;

const IMPORT =
  'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }';

/** Posts a serialised GraphQL request on a kept-alive connection; returns the parsed answer. */
function post(agent: http.Agent, url: URL, secret: string, body: Buffer): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          authorization: `Bearer ${secret}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            const answer = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            if (answer.errors) reject(new Error(JSON.stringify(answer.errors)));
            else resolve(answer.data);
          } catch (e) {
            reject(e);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The baseline's statement for one batch: Quarry's own columns, no HTTP, GraphQL or checks. */
async function rawBatch(db: Database, datasetId: string, items: Batches[number]): Promise<void> {
  await db.ds.query(
    `INSERT INTO item (dataset_id, external_id, payload, features, split, origin)
     SELECT $1, t.e, '{}', t.f, 'POOL', 'IMPORTED' FROM unnest($2::text[], $3::bytea[]) AS t(e, f)`,
    [
      datasetId,
      items.map((i) => i.externalId),
      items.map((i) => Buffer.from(i.featuresBase64, 'base64')),
    ],
  );
}

/**
 * Both ways over one database, batch by batch in alternation: seconds spent in `importItems`
 * (HTTP round trips included) and in the baseline's INSERTs.
 */
async function compare(db: Database, batches: Batches): Promise<{ api: number; raw: number }> {
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', dataDir: 'memory://' });
  const server = await startServer(config, { db, bootstrapAdminKey: false });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const { secret } = await server.services.apiKeys.create({
      name: 'bench',
      role: ApiKeyRole.SERVICE,
    });
    const url = new URL(`http://127.0.0.1:${server.port}/graphql`);
    const call = (query: string, variables: object) =>
      post(agent, url, secret, Buffer.from(JSON.stringify({ query, variables })));
    const { createDataset } = await call(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { name: 'bench-api', classes: ['a', 'b'], featureDim: DIM } },
    );
    const raw = await call(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      {
        i: { name: 'bench-raw', classes: ['a', 'b'], featureDim: DIM },
      },
    );
    const bodies = batches.map((items) =>
      Buffer.from(JSON.stringify({ query: IMPORT, variables: { d: createDataset.id, items } })),
    );
    const secs = { api: 0, raw: 0 };
    const timed = async (which: 'api' | 'raw', f: () => Promise<unknown>) => {
      const t0 = process.hrtime.bigint();
      await f();
      secs[which] += Number(process.hrtime.bigint() - t0) / 1e9;
    };
    for (let k = 0; k < batches.length; k++) {
      const api = () =>
        timed('api', async () => {
          const { importItems } = await post(agent, url, secret, bodies[k]);
          if (importItems.importedCount !== batches[k].length) throw new Error('short import');
        });
      const base = () => timed('raw', () => rawBatch(db, raw.createDataset.id, batches[k]));
      if (k % 2 === 0) {
        await base();
        await api();
      } else {
        await api();
        await base();
      }
    }
    return secs;
  } finally {
    agent.destroy();
    await server.stop();
  }
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
    `Import benchmark: ${TOTAL.toLocaleString('en')} items x ${DIM} float32, batches of ${BATCH.toLocaleString('en')}, ${os.cpus().length} cores (load ${os.loadavg()[0].toFixed(1)}), Node ${process.version}, NODE_ENV=${process.env.NODE_ENV}`,
  );
  const batches = makeBatches();

  if (process.env.QUARRY_BENCH_EMBEDDED !== '0') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-bench-'));
    try {
      const db = await openDatabase({ dataDir: dir });
      try {
        const { api, raw } = await compare(db, batches);
        report('PGlite', api, raw);
      } finally {
        await db.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
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
      const { api, raw } = await compare(db, batches);
      report('PostgreSQL', api, raw);
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
