/**
 * Label-queue benchmark on PostgreSQL. Prints, in one run:
 *   (a) 64 annotators over HTTP, each looping `claimQueries(count: 1)` -> `submitLabel`, against a
 *       Quarry server process: labels/s, claim and submit latency (p50/p95/p99), claim+submit p99;
 *   (b) the limit: the same loop as raw SQL over `pg` (the statements Quarry runs, minus HTTP,
 *       GraphQL and auth), 64 clients, on a second queue of the same size; and (a) / (b);
 *   (c) double-serves of both, from the claims handed out and from the rows left behind;
 *   (d) `labelQueue(first: 50)` under 128 connections (autocannon, rate and cost limits off: one key
 *       on 128 connections would measure its role's cost limit) against Quarry, and against a
 *       bare Apollo Server on the same HTTP stack serving the same payload from memory (the limit);
 *   (e) the targets, PASS or MISS;
 *   (f) (printed before (d)) the edge limits: the time to refuse the 1,000-alias query (2
 *       clients, 5 s) and a viewer's latency meanwhile; the loop of (a) six more times,
 *       limits on, off, off, on, on, off, and the ratio of the mean rates (target: the limits cost under 5%
 *       of labels/s); the same query once with the limits off;
 *   (g) (printed before (d)) an open loop at the pace of people: 64 annotators each starting a
 *       claim -> submit every 2 s, and its claim+submit latency (target p99 <= 25 ms);
 *   (h) the statements the server sends per claim and per submit (its
 *       quarry_db_statements_total), one at a time; (a) prints them per claim + submit under load;
 *   (i) where the server's CPU goes: the loop of (a) again under `--cpu-prof`, top self time.
 *
 *   npm run bench:queues
 *   QUARRY_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test to choose the server
 *   QUARRY_BENCH_SERVER_NODE_ARGS (node flags for the server, e.g. --cpu-prof),
 *   QUARRY_BENCH_SECONDS (20), QUARRY_BENCH_READ_SECONDS (10), QUARRY_BENCH_WARMUP_SECONDS (2),
 *   QUARRY_BENCH_ANNOTATORS (64), QUARRY_BENCH_CONNECTIONS (128), QUARRY_BENCH_QUEUE (50000:
 *   queries per queue, at most a round's 100,000), QUARRY_BENCH_IDEMPOTENCY (1: submits carry an
 *   idempotency key, as a retrying client's do), QUARRY_DB_POOL_SIZE (the server's pool, 10),
 *   QUARRY_BENCH_KEEP_DB=1 (keep the database afterwards, to look at it),
 *   QUARRY_BENCH_BASELINE_QUARRY (another build's bin/quarry.js: its label loop alternates with
 *   this build's in (f), with the server's statements and CPU ms per label of each).
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { aliasAttack, LIMITS_OFF, underAttack, type AttackResult } from './edge-limits';
import { openLoop, perLabel, statementsPerCall, summariseProfile } from './queue-probes';
import { benchPgUrl } from './pg';
import { syntheticFeatures, syntheticModel } from './synthetic';
import {
  LoopStats,
  QUARRY,
  spawnServer,
  START_NODE_ARGS,
  stopServer,
  type ServerProcess,
} from './server';
// The raw-SQL baseline runs Quarry's own statements: the claim's slot SELECT (k = 1) and the
// queue's page SELECT (first page of 50).
import { queuePage } from '../src/db/sql/queries.sql';
import { freeSlots } from '../src/db/sql/slots.sql';
import type { SqlStatement } from '../src/db/sql/statement';

function knob(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`${name} must be an integer of ${min} or more, got ${JSON.stringify(raw)}`);
  return n;
}

const SECONDS = knob('QUARRY_BENCH_SECONDS', 20);
const READ_SECONDS = knob('QUARRY_BENCH_READ_SECONDS', 10);
const WARMUP_SECONDS = knob('QUARRY_BENCH_WARMUP_SECONDS', 2, 0);
const ANNOTATORS = knob('QUARRY_BENCH_ANNOTATORS', 64);
const CONNECTIONS = knob('QUARRY_BENCH_CONNECTIONS', 128);
const QUEUE = Math.min(100_000, knob('QUARRY_BENCH_QUEUE', 50_000));
const IDEMPOTENCY = knob('QUARRY_BENCH_IDEMPOTENCY', 1, 0) !== 0;
const DIM = 8;
const CLASSES = ['cat', 'dog', 'bird', 'fish'];
const LEASE_SECONDS = 3600;

const CLAIM = `mutation($d: ID!) { claimQueries(datasetId: $d, count: 1, leaseSeconds: ${LEASE_SECONDS}) {
  token expiresAt annotatorId query { id itemId } } }`;
const SUBMIT = `mutation($q: ID!, $v: String!, $t: String!, $k: String) {
  submitLabel(queryId: $q, value: $v, claimToken: $t, idempotencyKey: $k) { value replayed query { id status } } }`;
const LABEL_QUEUE = `query($d: ID!) { labelQueue(datasetId: $d, first: 50) { edges { node {
  id rank score reason item { id externalId payload } round { id strategy } preLabel { value confidence } } } } }`;

/** The SDL of what LABEL_QUEUE reads, for the bare server; JSON scalars pass values through. */
const BARE_SDL = `scalar JSON
type Item { id: ID! externalId: String! payload: JSON! }
type Round { id: ID! strategy: String! }
type Prediction { value: String! confidence: Float! }
type LabelQuery { id: ID! rank: Int! score: Float! reason: JSON! item: Item! round: Round! preLabel: Prediction }
type LabelQueryEdge { node: LabelQuery! }
type LabelQueryConnection { edges: [LabelQueryEdge!]! }
type Query { labelQueue(datasetId: ID!, first: Int, after: String): LabelQueryConnection! }`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Nearest-rank percentile of unsorted samples (ms). */
function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const ms = (v: number) => `${v.toFixed(1)} ms`;
const int = (v: number) => Math.round(v).toLocaleString('en');

const features = (start: number, rows: number): Float32Array =>
  syntheticFeatures(start, rows, DIM, 1);

const model = (): Buffer =>
  syntheticModel({ inputDim: DIM, hidden: 16, classes: CLASSES.length, scale: 2, seed: 11 });

class GraphQLCallError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Keep-alive HTTP, lighter on the shared cores than fetch: the client is not what is measured. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

function post(url: string, body: string, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${key}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString()));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function gql(url: string, key: string, query: string, variables: object = {}) {
  const text = await post(url, JSON.stringify({ query, variables }), key);
  const body = JSON.parse(text) as {
    data?: any;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  if (body.errors?.length) {
    const e = body.errors[0];
    throw new GraphQLCallError(e.message, e.extensions?.code ?? 'UNKNOWN');
  }
  return body.data;
}

/** What one loop (HTTP or raw SQL) saw. */
class QueueLoopStats extends LoopStats {
  readonly tokens = new Set<string>();
  drainedAt: number | null = null;
  sqlStatements = 0;

  served1(queryId: string, token: string): void {
    this.served.set(queryId, (this.served.get(queryId) ?? 0) + 1);
    if (this.tokens.has(token)) this.error('duplicate claim token');
    this.tokens.add(token);
  }
}

/**
 * Runs `iteration` in `workers` loops for the warm-up then the measured window; each loop finishes
 * the iteration it is in (so no claim is left unanswered). Returns false from `iteration` when the
 * queue gave nothing.
 */
async function runLoops(
  stats: QueueLoopStats,
  workers: number,
  iteration: (
    worker: number,
    record: (claimMs: number, submitMs: number) => void,
  ) => Promise<boolean>,
): Promise<void> {
  const t0 = performance.now();
  const measureFrom = t0 + WARMUP_SECONDS * 1000;
  const end = measureFrom + SECONDS * 1000;
  const loop = async (w: number) => {
    while (performance.now() < end) {
      const started = performance.now();
      const inWindow = started >= measureFrom;
      const more = await iteration(w, (claimMs, submitMs) => {
        if (!inWindow) return;
        stats.claimMs.push(claimMs);
        stats.submitMs.push(submitMs);
        stats.bothMs.push(claimMs + submitMs);
        stats.measured++;
      });
      if (!more) {
        stats.drainedAt ??= (performance.now() - measureFrom) / 1000;
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => loop(w)));
  stats.measuredSecs = (performance.now() - measureFrom) / 1000;
}

/** Counts backends of the bench database by what they wait on, every 100 ms, while `work` runs. */
async function sampleWaits<T>(
  adminUrl: string,
  dbName: string,
  work: Promise<T>,
): Promise<{ result: T; waits: [string, number][] }> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  const counts = new Map<string, number>();
  let done = false;
  let samples = 0;
  const sampler = (async () => {
    while (!done) {
      const { rows } = await c.query(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w, count(*)::int AS n
         FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()
         GROUP BY 1`,
        [dbName],
      );
      samples++;
      for (const r of rows as { w: string; n: number }[])
        counts.set(r.w, (counts.get(r.w) ?? 0) + r.n);
      await sleep(100);
    }
  })();
  try {
    const result = await work;
    return {
      result,
      waits: [...counts.entries()]
        .map(([w, n]): [string, number] => [w, n / Math.max(1, samples)])
        .sort((a, b) => b[1] - a[1]),
    };
  } finally {
    done = true;
    await sampler;
    await c.end();
  }
}

function printLoop(name: string, s: QueueLoopStats, waits: [string, number][]): void {
  console.log(
    `${name}: ${int(s.rate)} labels/s (${int(s.measured)} in ${s.measuredSecs.toFixed(1)} s)` +
      (s.drainedAt !== null ? `  ** queue drained at ${s.drainedAt.toFixed(1)} s **` : ''),
  );
  console.log(
    `    claim   p50 ${ms(percentile(s.claimMs, 50))}  p95 ${ms(percentile(s.claimMs, 95))}  p99 ${ms(percentile(s.claimMs, 99))}`,
  );
  console.log(
    `    submit  p50 ${ms(percentile(s.submitMs, 50))}  p95 ${ms(percentile(s.submitMs, 95))}  p99 ${ms(percentile(s.submitMs, 99))}`,
  );
  console.log(
    `    claim+submit  p50 ${ms(percentile(s.bothMs, 50))}  p99 ${ms(percentile(s.bothMs, 99))}`,
  );
  const errors = [...s.errors.entries()].map(([e, n]) => `${e} x${n}`).join(', ');
  console.log(`    errors: ${errors || 'none'}`);
  console.log(
    `    active backends by wait (mean per sample): ${waits
      .slice(0, 6)
      .map(([w, n]) => `${w} ${n.toFixed(1)}`)
      .join(', ')}`,
  );
}

interface DbCheck {
  answeredSlots: number;
  heldSlots: number;
  labels: number;
  labelledItems: number;
  answeredQueries: number;
}

async function checkDatabase(db: Client, datasetId: string): Promise<DbCheck> {
  const { rows } = await db.query(
    `SELECT
       (SELECT count(*)::int FROM query_slot WHERE dataset_id = $1 AND answered_at IS NOT NULL) AS "answeredSlots",
       (SELECT count(*)::int FROM query_slot WHERE dataset_id = $1 AND answered_at IS NULL AND claim_token IS NOT NULL) AS "heldSlots",
       (SELECT count(*)::int FROM label WHERE dataset_id = $1 AND source = 'HUMAN') AS labels,
       (SELECT count(DISTINCT item_id)::int FROM label WHERE dataset_id = $1 AND source = 'HUMAN') AS "labelledItems",
       (SELECT count(*)::int FROM label_query WHERE dataset_id = $1 AND status = 'ANSWERED') AS "answeredQueries"`,
    [datasetId],
  );
  return rows[0] as DbCheck;
}

/** Double-serves the database shows: labels beyond one per item, answers beyond the submits. */
function dbDoubleServes(c: DbCheck, s: QueueLoopStats): number {
  return (
    c.labels -
    c.labelledItems +
    Math.max(0, c.answeredSlots - s.submitted) +
    Math.abs(c.answeredQueries - c.labelledItems)
  );
}

function printDoubleServes(name: string, s: QueueLoopStats, c: DbCheck): number {
  const total = s.doubleServes + dbDoubleServes(c, s);
  console.log(
    `    double-serves: ${total} (claims seen: ${int(s.claims)} of ${int(s.served.size)} distinct queries;` +
      ` database: ${int(c.labels)} HUMAN labels on ${int(c.labelledItems)} items, ${int(c.answeredSlots)} answered slots` +
      ` for ${int(s.submitted)} submits, ${int(c.answeredQueries)} ANSWERED queries, ${c.heldSlots} slots still held)`,
  );
  if (total > 0) console.log(`    ** ${name}: some queries were handed out more than once **`);
  return total;
}

/** The bare server: Apollo Server 5 on express 5, answering labelQueue with one stored payload. */
async function bareServer(payloadFile: string): Promise<void> {
  const { ApolloServer } = await import('@apollo/server');
  const { expressMiddleware } = await import('@as-integrations/express5');
  const { default: express } = await import('express');
  const { default: cors } = await import('cors');
  const { buildSchema } = await import('graphql');
  const payload = JSON.parse(fs.readFileSync(payloadFile, 'utf8')) as unknown;
  const apollo = new ApolloServer({
    schema: buildSchema(BARE_SDL),
    rootValue: { labelQueue: () => payload },
  });
  await apollo.start();
  const app = express();
  app.use('/graphql', cors(), express.json({ limit: '1mb' }), expressMiddleware(apollo));
  const server = http.createServer(app);
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    console.log(JSON.stringify({ url: `http://127.0.0.1:${port}/graphql` }));
  });
  process.once('SIGTERM', () => {
    server.close();
    void apollo.stop().then(() => process.exit(0));
  });
}

/**
 * autocannon's numbers for one server: a short warm-up, then the measured run. autocannon drops
 * its connections at the end of a run, but the server still answers what was in flight:
 * `settled` waits for that, so no run pays for the one before.
 */
async function readBench(
  url: string,
  key: string,
  body: string,
  expectBody: string,
  settled: () => Promise<void>,
) {
  const run = async (duration: number) => {
    const r = await autocannon({
      url,
      method: 'POST',
      connections: CONNECTIONS,
      duration,
      // Seconds; autocannon's default of 10 would count Quarry's slowest answers as failures.
      timeout: 60,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body,
      expectBody,
    });
    await settled();
    return r;
  };
  await run(2);
  const r = await run(READ_SECONDS);
  const failed = { errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, wrong: r.mismatches };
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    failed:
      Object.entries(failed)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ') || 'none failed',
    total: r.requests.total,
  };
}

/** Until no statement of database `dbName` has run for two samples in a row. */
async function databaseSettled(adminUrl: string, dbName: string): Promise<void> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  try {
    let quiet = 0;
    const until = Date.now() + 120_000;
    while (quiet < 2 && Date.now() < until) {
      const { rows } = await c.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = $1 AND state <> 'idle' AND pid <> pg_backend_pid()`,
        [dbName],
      );
      quiet = rows[0].n === 0 ? quiet + 1 : 0;
      await sleep(250);
    }
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  console.log(
    `Label-queue benchmark: ${ANNOTATORS} annotators, queues of ${int(QUEUE)} queries, ${SECONDS} s measured after ${WARMUP_SECONDS} s warm-up,` +
      ` server pool ${process.env.QUARRY_DB_POOL_SIZE || 10} connections, ${os.availableParallelism()} cores (load ${os.loadavg()[0].toFixed(1)}), Node ${process.version}`,
  );
  const admin = await benchPgUrl();
  if (!admin) throw new Error('This benchmark needs PostgreSQL (set QUARRY_BENCH_PG_URL).');
  const name = `quarry_bench_${crypto.randomBytes(4).toString('hex')}`;
  const c = new Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-bench-queues-'));
  const u = new URL(admin);
  u.pathname = `/${name}`;
  const dbUrl = u.toString();
  const env = {
    DATABASE_URL: dbUrl,
    QUARRY_DATA_DIR: path.join(dir, 'data'),
    QUARRY_MODEL_CACHE_DIR: path.join(dir, 'cache'),
    QUARRY_JOB_POLLING_SECONDS: '1',
  };
  let server: ServerProcess | undefined;
  let bare: ServerProcess | undefined;
  const db = new Client({ connectionString: dbUrl });
  const raw: Client[] = [];
  try {
    execFileSync(process.execPath, [QUARRY, 'migrate'], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    const adminKey = execFileSync(
      process.execPath,
      [QUARRY, 'keys', 'create', '--name', 'bench', '--role', 'ADMIN'],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .toString()
      .trim();
    await db.connect();
    server = await spawnServer(env);
    let url = server.url;
    const call = (query: string, variables: object = {}) => gql(url, adminKey, query, variables);

    // Two queues of the same size from the same state: one for HTTP, one for raw SQL.
    const t0 = Date.now();
    const onnx = model().toString('base64');
    const queues: { datasetId: string; roundId: string; modelId: string }[] = [];
    for (const which of ['http', 'sql']) {
      const { createDataset } = await call(
        'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
        { i: { name: `bench-${which}`, classes: CLASSES, featureDim: DIM } },
      );
      const datasetId: string = createDataset.id;
      // Through importItems, as a user's data goes in: the database is in the state Quarry
      // leaves it in (its own planner statistics included; the bench runs no ANALYZE).
      for (let s = 0; s < QUEUE; s += 10_000) {
        const rows = Math.min(10_000, QUEUE - s);
        const f = features(s, rows);
        await call(
          'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
          {
            d: datasetId,
            items: Array.from({ length: rows }, (_, i) => ({
              externalId: `item-${s + i}`,
              payload: { text: `Item number ${s + i}`, source: 'bench' },
              featuresBase64: Buffer.from(f.buffer, i * DIM * 4, DIM * 4).toString('base64'),
            })),
          },
        );
      }
      const { registerModel } = await call(
        'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "tiny", onnxBase64: $b) { id } }',
        { d: datasetId, b: onnx },
      );
      queues.push({ datasetId, roundId: '', modelId: registerModel.id });
    }
    for (const q of queues) {
      const { startRound } = await call(
        'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }',
        {
          i: { datasetId: q.datasetId, strategy: 'random', size: QUEUE, modelIds: [q.modelId] },
        },
      );
      q.roundId = startRound.id;
    }
    for (const q of queues) {
      for (;;) {
        const { round } = await call('query($id: ID!) { round(id: $id) { status error } }', {
          id: q.roundId,
        });
        if (round.status === 'OPEN') break;
        if (round.status === 'FAILED' || round.status === 'CANCELLED')
          throw new Error(`round ${round.status}: ${round.error}`);
        await sleep(200);
      }
      // Pre-labels are stored just after the round opens; the loops start on a quiet database.
      for (;;) {
        const { rows } = await db.query(
          'SELECT count(*)::int AS n FROM prediction WHERE model_id = $1',
          [q.modelId],
        );
        if (rows[0].n >= QUEUE) break;
        await sleep(200);
      }
    }
    // No ANALYZE here: the rounds' queries and slots have the statistics Quarry keeps itself.
    const [httpQueue, sqlQueue] = queues;
    const annotators: { id: string; secret: string }[] = [];
    for (let a = 0; a < ANNOTATORS; a++) {
      const { createApiKey } = await call(
        'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id } } }',
        { i: { name: `annotator-${a}`, role: 'ANNOTATOR' } },
      );
      annotators.push({ id: createApiKey.apiKey.id, secret: createApiKey.secret });
    }
    console.log(
      `    (setup: 2 datasets x ${int(QUEUE)} items x ${DIM} float32, random rounds of ${int(QUEUE)} with pre-labels, ${ANNOTATORS} ANNOTATOR keys: ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );

    // The two statements whose cost grows with the queue, alone on an idle database.
    const alone = async ({ text, values }: SqlStatement) => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        await db.query('BEGIN');
        const t = performance.now();
        await db.query(text, values);
        times.push(performance.now() - t);
        await db.query('ROLLBACK');
      }
      return percentile(times, 50);
    };
    console.log(
      `    (alone, idle database, ${int(QUEUE)} open queries: the claim's slot SELECT ${ms(await alone(freeSlots(sqlQueue.datasetId, annotators[0].id, 1)))}, labelQueue's page SELECT ${ms(await alone(queuePage(httpQueue.datasetId, 51)))})`,
    );

    // (a) Over HTTP (with the edge limits at their defaults; again without them in (f)).
    const errorName = (what: string, e: unknown) =>
      `${what} ${e instanceof GraphQLCallError ? e.code : (e as Error).message}`;
    const httpLoop = async (stats: QueueLoopStats) =>
      sampleWaits(
        admin,
        name,
        runLoops(stats, ANNOTATORS, async (w, record) => {
          const key = annotators[w].secret;
          const t = performance.now();
          let claim: { token: string; query: { id: string } } | undefined;
          try {
            [claim] = (await gql(url, key, CLAIM, { d: httpQueue.datasetId })).claimQueries;
          } catch (e) {
            stats.error(errorName('claim', e));
            await sleep(5);
            return true;
          }
          const t1 = performance.now();
          if (!claim) return false;
          stats.served1(claim.query.id, claim.token);
          try {
            await gql(url, key, SUBMIT, {
              q: claim.query.id,
              v: CLASSES[Number(claim.query.id) % CLASSES.length],
              t: claim.token,
              k: IDEMPOTENCY ? crypto.randomUUID() : null,
            });
            stats.submitted++;
          } catch (e) {
            stats.error(errorName('submit', e));
            return true;
          }
          record(t1 - t, performance.now() - t1);
          return true;
        }),
      );
    const httpStats = new QueueLoopStats();
    let httpWaits: [string, number][] = [];
    const spent = await perLabel(url, adminKey, async () => {
      httpWaits = (await httpLoop(httpStats)).waits;
      return { labels: httpStats.submitted };
    });
    printLoop(`(a) Quarry over HTTP, ${ANNOTATORS} annotators`, httpStats, httpWaits);
    console.log(
      `    per claim + submit, the server spent ${spent.statements.toFixed(1)} statements and ${spent.cpuMs.toFixed(2)} ms of its CPU (background work included)`,
    );
    const httpDb = await checkDatabase(db, httpQueue.datasetId);
    const httpDouble = printDoubleServes('HTTP', httpStats, httpDb);

    // (b) The limit: the same work as raw SQL, 64 clients. The server is stopped meanwhile: its
    // pool and 64 more connections may not fit under max_connections (100 by default).
    await stopServer(server);
    server = undefined;
    for (let a = 0; a < ANNOTATORS; a++) {
      const r = new Client({ connectionString: dbUrl });
      await r.connect();
      raw.push(r);
    }
    const sqlStats = new QueueLoopStats();
    const { waits: sqlWaits } = await sampleWaits(
      admin,
      name,
      runLoops(sqlStats, ANNOTATORS, async (w, record) => {
        const r = raw[w];
        const annotator = annotators[w];
        const t = performance.now();
        let claimed: { queryId: string; token: string } | undefined;
        try {
          await r.query('BEGIN');
          const select = freeSlots(sqlQueue.datasetId, annotator.id, 1);
          const { rows: free } = await r.query(select.text, select.values);
          if (free.length > 0) {
            const { rows } = await r.query(
              `UPDATE query_slot SET claim_token = gen_random_uuid(), api_key_id = $2, annotator_id = $3,
                 claimed_at = now(), lease_expires_at = now() + make_interval(secs => $4)
               WHERE id = $1 RETURNING query_id AS "queryId", claim_token AS token`,
              [free[0].id, annotator.id, annotator.id, LEASE_SECONDS],
            );
            claimed = rows[0];
          }
          await r.query('COMMIT');
        } catch (e) {
          await r.query('ROLLBACK').catch(() => undefined);
          sqlStats.error(`claim ${(e as { code?: string }).code ?? (e as Error).message}`);
          return true;
        }
        const t1 = performance.now();
        if (!claimed) return false;
        sqlStats.served1(claimed.queryId, claimed.token);
        try {
          await r.query('BEGIN');
          const { rows: slots } = await r.query(
            `SELECT id, query_id AS "queryId", api_key_id AS "apiKeyId", answered_at AS "answeredAt",
                    lease_expires_at <= now() AS expired
             FROM query_slot WHERE claim_token = $1 FOR UPDATE`,
            [claimed.token],
          );
          const slot = slots[0];
          if (!slot || slot.answeredAt || slot.apiKeyId !== annotator.id)
            throw new Error('stale claim');
          const { rows: queries } = await r.query(
            'SELECT status, answers_needed AS "answersNeeded", item_id AS "itemId" FROM label_query WHERE id = $1 FOR UPDATE',
            [claimed.queryId],
          );
          if (queries[0].status !== 'OPEN') throw new Error('query not open');
          const classIndex = Number(claimed.queryId) % CLASSES.length;
          await r.query(
            'UPDATE query_slot SET class_index = $2, answered_at = now() WHERE id = $1',
            [slot.id, classIndex],
          );
          const itemIds = [queries[0].itemId];
          await r.query(
            'SELECT 1 FROM item WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE',
            [itemIds],
          );
          await r.query(
            `UPDATE label SET superseded_at = now()
             WHERE item_id = ANY($1::bigint[]) AND source = $2 AND superseded_at IS NULL`,
            [itemIds, 'HUMAN'],
          );
          await r.query(
            `INSERT INTO label (dataset_id, item_id, class_index, source, api_key_id, annotator_id, confidence)
             SELECT $1, t.i, t.c, $2, $3, t.a, t.conf
             FROM unnest($4::bigint[], $5::smallint[], $6::text[], $7::real[]) WITH ORDINALITY AS t(i, c, a, conf, n)
             ORDER BY t.n
             RETURNING id`,
            [
              sqlQueue.datasetId,
              'HUMAN',
              annotator.id,
              itemIds,
              [classIndex],
              [annotator.id],
              [null],
            ],
          );
          await r.query(
            `UPDATE label_query SET status = 'ANSWERED', resolved_class = $2, answered_at = now() WHERE id = $1`,
            [claimed.queryId, classIndex],
          );
          await r.query('COMMIT');
          sqlStats.submitted++;
        } catch (e) {
          await r.query('ROLLBACK').catch(() => undefined);
          sqlStats.error(`submit ${(e as { code?: string }).code ?? (e as Error).message}`);
          return true;
        }
        record(t1 - t, performance.now() - t1);
        return true;
      }),
    );
    printLoop(`(b) raw SQL over pg, ${ANNOTATORS} clients (the limit)`, sqlStats, sqlWaits);
    const sqlDb = await checkDatabase(db, sqlQueue.datasetId);
    const sqlDouble = printDoubleServes('raw SQL', sqlStats, sqlDb);
    const writeRatio = httpStats.rate / sqlStats.rate;
    console.log(
      `(c) ratio (a) / (b): ${writeRatio.toFixed(2)} of the raw SQL rate (target >= 0.70)`,
    );
    await Promise.all(raw.splice(0).map((r) => r.end()));

    // (f) The edge limits: the 1,000-alias query refused while a viewer is answered, and the
    // label loop of (a) again with every limit off (the limits' cost).
    const attack = {
      key: adminKey,
      query: aliasAttack(1000),
      variables: { d: httpQueue.datasetId },
    };
    const viewerKey = annotators[1].secret;
    const attackLine = (label: string, r: AttackResult) =>
      console.log(
        `    ${label}: ${int(r.attackMs.length)} sent, answers ${[...r.codes.entries()].map(([c, n]) => `${c} x${int(n)}`).join(', ')}; answered in p50 ${ms(percentile(r.attackMs, 50))}, p99 ${ms(percentile(r.attackMs, 99))}; viewer meanwhile p50 ${ms(percentile(r.viewerMs, 50))}, p99 ${ms(percentile(r.viewerMs, 99))}, max ${ms(Math.max(...r.viewerMs))} (${r.viewerMs.length} queries)`,
      );
    server = await spawnServer(env);
    url = server.url;
    console.log('(f) the edge limits:');
    attackLine(
      '1,000-alias items(first: 200), 2 clients for 5 s, limits at defaults',
      await underAttack(url, attack, viewerKey, { attackers: 2, seconds: 5 }),
    );
    // The label loop again, with the limits at defaults and off in the order on, off, off, on,
    // on, off: a drift of the rate over the run (the queue's dead rows pile up, the machine's
    // load changes) weighs on both sides alike. (a) is left out: it ran first, on a fresher queue.
    const withLimits: QueueLoopStats[] = [];
    const withoutLimits: QueueLoopStats[] = [];
    for (const limited of [true, false, false, true, true, false]) {
      await stopServer(server);
      server = await spawnServer(limited ? env : { ...env, ...LIMITS_OFF });
      url = server.url;
      const stats = new QueueLoopStats();
      await httpLoop(stats);
      (limited ? withLimits : withoutLimits).push(stats);
      console.log(
        `    label loop, limits ${limited ? 'at defaults' : 'off'}: ${int(stats.rate)} labels/s, claim+submit p50 ${ms(percentile(stats.bothMs, 50))}, p99 ${ms(percentile(stats.bothMs, 99))}, errors ${[...stats.errors.entries()].map(([e, n]) => `${e} x${n}`).join(', ') || 'none'}`,
      );
    }
    const meanRate = (runs: QueueLoopStats[]) =>
      runs.reduce((sum, r) => sum + r.rate, 0) / runs.length;
    // Another build of Quarry (QUARRY_BENCH_BASELINE_QUARRY: its bin/quarry.js) alternating with
    // this one on the same queue, limits at defaults: the before and after of a change, measured
    // side by side on a machine whose load drifts.
    const baseline = process.env.QUARRY_BENCH_BASELINE_QUARRY;
    if (baseline) {
      const runs = { baseline: [] as QueueLoopStats[], this: [] as QueueLoopStats[] };
      const cost = { baseline: [] as number[][], this: [] as number[][] };
      for (const which of ['baseline', 'this', 'baseline', 'this'] as const) {
        await stopServer(server);
        server = await spawnServer(env, which === 'baseline' ? [baseline, 'serve'] : undefined);
        url = server.url;
        const stats = new QueueLoopStats();
        const spentHere = await perLabel(url, adminKey, async () => {
          await httpLoop(stats);
          return { labels: stats.submitted };
        });
        runs[which].push(stats);
        cost[which].push([spentHere.statements, spentHere.cpuMs]);
        console.log(
          `    label loop, ${which === 'baseline' ? 'baseline build' : 'this build'}: ${int(stats.rate)} labels/s, claim+submit p50 ${ms(percentile(stats.bothMs, 50))}, p99 ${ms(percentile(stats.bothMs, 99))}; per label ${spentHere.statements.toFixed(1)} statements, ${spentHere.cpuMs.toFixed(2)} ms of server CPU`,
        );
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      console.log(
        `    this build / baseline: ${int(meanRate(runs.this))} / ${int(meanRate(runs.baseline))} labels/s = ${(meanRate(runs.this) / meanRate(runs.baseline)).toFixed(2)};` +
          ` server CPU per label ${mean(cost.this.map((c) => c[1])).toFixed(2)} / ${mean(cost.baseline.map((c) => c[1])).toFixed(2)} ms;` +
          ` statements per label ${mean(cost.this.map((c) => c[0])).toFixed(1)} / ${mean(cost.baseline.map((c) => c[0])).toFixed(1)}`,
      );
    }
    const limitsRatio = meanRate(withLimits) / meanRate(withoutLimits);
    console.log(
      `    labels/s with the limits at defaults / off: ${int(meanRate(withLimits))} / ${int(meanRate(withoutLimits))} = ${limitsRatio.toFixed(3)} (target >= 0.95)`,
    );
    await stopServer(server);
    server = await spawnServer({ ...env, ...LIMITS_OFF });
    url = server.url;
    attackLine(
      'the same query once, limits off',
      await underAttack(url, attack, viewerKey, { attackers: 1, seconds: 120, maxAttacks: 1 }),
    );
    await stopServer(server);
    server = await spawnServer(env);
    url = server.url;

    // (g) An open loop at the pace of people: the latency a person sees when the server is not
    // saturated (the closed loops above only measure saturation).
    const claimOne = async (key: string) => {
      const [c] = (await gql(url, key, CLAIM, { d: httpQueue.datasetId })).claimQueries;
      if (!c) throw new Error('queue drained');
      return { id: c.query.id as string, token: c.token as string };
    };
    const submitOne = async (key: string, c: { id: string; token: string }) => {
      await gql(url, key, SUBMIT, {
        q: c.id,
        v: CLASSES[Number(c.id) % CLASSES.length],
        t: c.token,
        k: IDEMPOTENCY ? crypto.randomUUID() : null,
      });
    };
    const open = await openLoop(ANNOTATORS, 2000, SECONDS, async (w) => {
      const key = annotators[w].secret;
      await submitOne(key, await claimOne(key));
    });
    const openP99 = percentile(open.bothMs, 99);
    console.log(
      `(g) open loop, ${ANNOTATORS} annotators each starting claim -> submit every 2 s (${ANNOTATORS / 2} labels/s offered), ${SECONDS} s: ${int(open.bothMs.length)} labels;` +
        ` claim+submit p50 ${ms(percentile(open.bothMs, 50))}, p95 ${ms(percentile(open.bothMs, 95))}, p99 ${ms(openP99)}, max ${ms(Math.max(...open.bothMs))};` +
        ` started late ${open.late}; errors ${[...open.errors.entries()].map(([e, n]) => `${e} x${n}`).join(', ') || 'none'}`,
    );

    // (h) What a claim and a submit cost the database and the server, one at a time (and the
    // same of the baseline build, when given).
    // Each call by the next annotator's key: one key's calls one after another would pass its
    // role's requests per second (ANNOTATOR: 100), as no person does.
    let turn = 0;
    const perCallOf = async (label: string) => {
      const r = await statementsPerCall(
        url,
        adminKey,
        100,
        async () => {
          const key = annotators[turn++ % annotators.length].secret;
          return { ...(await claimOne(key)), key };
        },
        (c) => submitOne(c.key, c),
      );
      console.log(
        `    ${label}: per claim ${r.claim.toFixed(1)} statements, ${r.claimCpuMs.toFixed(2)} ms of server CPU; per submit ${r.submit.toFixed(1)} statements, ${r.submitCpuMs.toFixed(2)} ms (the background's ${r.backgroundPerSecond.toFixed(1)} statements/s taken off)`,
      );
    };
    console.log('(h) claims and submits one at a time, 100 of each:');
    await perCallOf('this build');
    if (process.env.QUARRY_BENCH_BASELINE_QUARRY) {
      await stopServer(server);
      server = await spawnServer(env, [process.env.QUARRY_BENCH_BASELINE_QUARRY, 'serve']);
      url = server.url;
      await perCallOf('baseline build');
    }

    // (i) Where the server's CPU goes: the loop of (a) again, the server under --cpu-prof.
    await stopServer(server);
    const profDir = path.join(dir, 'profile');
    const spawnedAt = performance.now();
    server = await spawnServer(env, undefined, undefined, [
      '--cpu-prof',
      `--cpu-prof-dir=${profDir}`,
    ]);
    const startUpMs = performance.now() - spawnedAt;
    url = server.url;
    const profiled = new QueueLoopStats();
    await httpLoop(profiled);
    await stopServer(server);
    console.log(
      `(i) the server's CPU profile over the loop of (a) (${int(profiled.rate)} labels/s under the profiler), top self time:`,
    );
    for (const l of summariseProfile(profDir, startUpMs)) console.log(`    ${l}`);
    // (d) measures the read path, so the limits are off: one key on 128 connections would be
    // held to its role's cost per second (a page of 50 costs about 2,000), not to what the server
    // can serve; the limits' own cost is (f).
    server = await spawnServer({ ...env, ...LIMITS_OFF });
    url = server.url;

    // (d) Reads: labelQueue(first: 50), Quarry against a bare server with the same payload.
    const readKey = annotators[0].secret;
    const readBody = JSON.stringify({ query: LABEL_QUEUE, variables: { d: httpQueue.datasetId } });
    const captured = await post(url, readBody, readKey);
    const parsed = JSON.parse(captured) as { data?: { labelQueue: unknown }; errors?: unknown };
    if (parsed.errors || !parsed.data) throw new Error(`labelQueue failed: ${captured}`);
    const payloadFile = path.join(dir, 'label-queue.json');
    fs.writeFileSync(payloadFile, JSON.stringify(parsed.data.labelQueue));
    // Both with the Node flags of `npm start`.
    bare = await spawnServer({}, [__filename, '--bare', payloadFile], undefined, START_NODE_ARGS);
    const bareAnswer = await post(bare.url, readBody, readKey);
    if (JSON.stringify(JSON.parse(bareAnswer)) !== JSON.stringify(parsed)) {
      throw new Error(
        `the bare server's answer differs from Quarry's:\n${bareAnswer.slice(0, 300)}\n${captured.slice(0, 300)}`,
      );
    }
    console.log(
      `(d) labelQueue(first: 50), ${CONNECTIONS} connections, ${READ_SECONDS} s (${int(Buffer.byteLength(captured))}-byte answer; rate and cost limits off):`,
    );
    const quarryRead = await readBench(url, readKey, readBody, captured, () =>
      databaseSettled(admin, name),
    );
    const bareRead = await readBench(bare.url, readKey, readBody, bareAnswer, () => sleep(1000));
    const line = (label: string, r: Awaited<ReturnType<typeof readBench>>) =>
      console.log(
        `    ${label} ${int(r.rps)} req/s, latency p50 ${r.p50} ms, p99 ${r.p99} ms (${int(r.total)} requests, ${r.failed})`,
      );
    line('Quarry:                       ', quarryRead);
    line('bare Apollo, payload in memory:', bareRead);
    const readRatio = quarryRead.rps / bareRead.rps;
    console.log(`    ratio: ${readRatio.toFixed(2)} of the bare server's req/s (target >= 0.50)`);

    if (sqlDouble > 0) console.log('    ** the raw SQL loop double-served: the limit is wrong **');
    const p99 = percentile(httpStats.bothMs, 99);
    const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
    console.log('(e) targets:');
    console.log(
      `    zero double-serves:       ${String(httpDouble).padEnd(14)} ${verdict(httpDouble === 0)}`,
    );
    console.log(`    closed-loop claim+submit p99 (saturation, for the record): ${ms(p99)}`);
    console.log(
      `    open-loop p99 <= 25 ms:   ${ms(openP99).padEnd(14)} ${verdict(openP99 <= 25)}`,
    );
    console.log(
      `    >= 0.7 of the raw SQL rate: ${writeRatio.toFixed(2).padEnd(12)} ${verdict(writeRatio >= 0.7)}`,
    );
    console.log(
      `    labelQueue >= 0.5 of bare: ${readRatio.toFixed(2).padEnd(13)} ${verdict(readRatio >= 0.5)}`,
    );
    console.log(
      `    limits cost < 5% labels/s: ${limitsRatio.toFixed(3).padEnd(13)} ${verdict(limitsRatio >= 0.95)}`,
    );
    if (httpStats.drainedAt !== null || sqlStats.drainedAt !== null)
      console.log(
        '    ** a queue drained: raise QUARRY_BENCH_QUEUE or lower QUARRY_BENCH_SECONDS **',
      );
  } finally {
    await Promise.all(raw.map((r) => r.end().catch(() => undefined)));
    await stopServer(bare);
    await stopServer(server);
    await db.end().catch(() => undefined);
    if (process.env.QUARRY_BENCH_KEEP_DB) console.log(`    (kept database ${name})`);
    else await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
    agent.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--bare') {
  bareServer(process.argv[3]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
