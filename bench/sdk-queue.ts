/**
 * The annotator loop through `@quarry/client` against the same loop over bare `fetch`, in one run
 * on one Quarry server process. Prints, for each: labels/s, claim and submit latency
 * (p50/p95/p99), errors, and whether any query was handed out twice; then the SDK's rate as a
 * share of bare fetch's (target: within 10%).
 *
 * Both loops claim one query (`claimQueries(count: 1)`) and submit its label with an idempotency
 * key, each annotator with its own ANNOTATOR key, on two queues of the same size (one per loop).
 * The bare loop sends the SDK's own documents (the same selections, so the server does the same
 * work): the difference is the client's. The windows alternate fetch, SDK, SDK, fetch so that a
 * drift of the machine (a warming JIT, a growing table) falls on both alike.
 *
 *   npm run bench:sdk
 *   PostgreSQL (QUARRY_BENCH_PG_URL, else the local one, as bench/queues.ts), else the embedded
 *   database; QUARRY_BENCH_EMBEDDED=1 to use the embedded one anyway.
 *   QUARRY_BENCH_SECONDS (20: measured seconds per loop, in two windows), QUARRY_BENCH_WARMUP_SECONDS
 *   (2 per window), QUARRY_BENCH_ANNOTATORS (16), QUARRY_BENCH_QUEUE (10000 queries per queue).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { print } from 'graphql';
import { Client } from 'pg';
import {
  ClaimQueriesDocument,
  QuarryClient,
  QuarryError,
  SubmitLabelDocument,
  type ClaimQueriesMutation,
  type SubmitLabelMutation,
} from '@quarry/client';
import { benchPgUrl } from './pg';
import { LoopStats, QUARRY, spawnServer, stopServer, type ServerProcess } from './server';

function knob(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`${name} must be an integer of ${min} or more, got ${JSON.stringify(raw)}`);
  return n;
}

const SECONDS = knob('QUARRY_BENCH_SECONDS', 20, 2);
const WARMUP_SECONDS = knob('QUARRY_BENCH_WARMUP_SECONDS', 2, 0);
const ANNOTATORS = knob('QUARRY_BENCH_ANNOTATORS', 16);
const QUEUE = Math.min(100_000, knob('QUARRY_BENCH_QUEUE', 10_000));
const DIM = 8;
const CLASSES = ['cat', 'dog', 'bird', 'fish'];
const LEASE_SECONDS = 3600;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ms = (v: number) => `${v.toFixed(1)} ms`;
const int = (v: number) => Math.round(v).toLocaleString('en');

/** Nearest-rank percentile of unsorted samples (ms). */
function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** What one loop saw. */
class SdkLoopStats extends LoopStats {
  replayed = 0;
  drained = false;
}

type Claimed = ClaimQueriesMutation['claimQueries'][number];
/** One annotator's claim and submit, through one client or the other. */
interface Annotator {
  claim(datasetId: string): Promise<Claimed | undefined>;
  submit(claim: Claimed, value: string): Promise<SubmitLabelMutation['submitLabel']>;
}

/** A window: `ANNOTATORS` loops for the warm-up, then `seconds` measured. */
async function runWindow(
  stats: SdkLoopStats,
  datasetId: string,
  annotators: Annotator[],
  seconds: number,
): Promise<void> {
  const t0 = performance.now();
  const measureFrom = t0 + WARMUP_SECONDS * 1000;
  const end = measureFrom + seconds * 1000;
  const loop = async (a: Annotator) => {
    while (performance.now() < end && !stats.drained) {
      const started = performance.now();
      let claim: Claimed | undefined;
      try {
        claim = await a.claim(datasetId);
      } catch (e) {
        stats.error(`claim ${e instanceof QuarryError ? e.code : (e as Error).message}`);
        await sleep(5);
        continue;
      }
      const t1 = performance.now();
      if (!claim) {
        stats.drained = true;
        return;
      }
      stats.served.set(claim.query.id, (stats.served.get(claim.query.id) ?? 0) + 1);
      try {
        const r = await a.submit(claim, CLASSES[Number(claim.query.id) % CLASSES.length]);
        stats.submitted++;
        if (r.replayed) stats.replayed++;
      } catch (e) {
        stats.error(`submit ${e instanceof QuarryError ? e.code : (e as Error).message}`);
        continue;
      }
      const t2 = performance.now();
      if (started >= measureFrom) {
        stats.claimMs.push(t1 - started);
        stats.submitMs.push(t2 - t1);
        stats.bothMs.push(t2 - started);
        stats.measured++;
      }
    }
  };
  await Promise.all(annotators.map(loop));
  stats.measuredSecs += Math.max(0, (performance.now() - measureFrom) / 1000);
}

/** The bare loop: `fetch` with the SDK's documents as text, errors read by hand. */
function bareAnnotator(url: string, key: string): Annotator {
  const claimQuery = print(ClaimQueriesDocument);
  const submitQuery = print(SubmitLabelDocument);
  const call = async <T>(query: string, variables: object): Promise<T> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${key}`,
        'apollo-require-preflight': 'true',
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as {
      data?: T;
      errors?: { message: string; extensions?: { code?: string } }[];
    };
    if (body.errors?.length) throw new Error(body.errors[0].extensions?.code ?? 'ERROR');
    return body.data as T;
  };
  return {
    claim: async (datasetId) =>
      (
        await call<ClaimQueriesMutation>(claimQuery, {
          datasetId,
          count: 1,
          leaseSeconds: LEASE_SECONDS,
        })
      ).claimQueries[0],
    submit: async (claim, value) =>
      (
        await call<SubmitLabelMutation>(submitQuery, {
          queryId: claim.query.id,
          value,
          claimToken: claim.token,
          idempotencyKey: crypto.randomUUID(),
        })
      ).submitLabel,
  };
}

/** The SDK loop: `queue.claim(datasetId, 1)` then `queue.submit(claim, value)`. */
function sdkAnnotator(url: string, key: string): Annotator {
  const client = new QuarryClient({ url, apiKey: key });
  return {
    claim: async (datasetId) =>
      (await client.queue.claim(datasetId, 1, { leaseSeconds: LEASE_SECONDS }))[0],
    submit: (claim, value) =>
      client.queue.submit(claim as Parameters<typeof client.queue.submit>[0], value),
  };
}

function printLoop(name: string, s: SdkLoopStats): void {
  console.log(
    `${name}: ${int(s.rate)} labels/s (${int(s.measured)} in ${s.measuredSecs.toFixed(1)} s)` +
      (s.drained ? '  ** queue drained **' : ''),
  );
  for (const [what, xs] of [
    ['claim', s.claimMs],
    ['submit', s.submitMs],
    ['claim+submit', s.bothMs],
  ] as const) {
    console.log(
      `    ${what.padEnd(13)} p50 ${ms(percentile(xs, 50))}  p95 ${ms(percentile(xs, 95))}  p99 ${ms(percentile(xs, 99))}`,
    );
  }
  const errors = [...s.errors.entries()].map(([e, n]) => `${e} x${n}`).join(', ');
  console.log(`    errors: ${errors || 'none'}; replayed submits: ${s.replayed}`);
}

/** HUMAN labels of the dataset, through the SDK's export (every label once). */
async function countLabels(admin: QuarryClient, datasetId: string): Promise<number> {
  let n = 0;
  for await (const label of admin.labels.export(datasetId)) if (label.source === 'HUMAN') n++;
  return n;
}

async function main(): Promise<void> {
  const pg = process.env.QUARRY_BENCH_EMBEDDED ? undefined : await benchPgUrl();
  console.log(
    `SDK queue benchmark: ${ANNOTATORS} annotators, queues of ${int(QUEUE)} queries, ${SECONDS} s measured per loop` +
      ` (windows fetch, SDK, SDK, fetch, each after ${WARMUP_SECONDS} s warm-up), ${pg ? 'PostgreSQL' : 'embedded database (PGlite)'},` +
      ` ${os.availableParallelism()} cores (load ${os.loadavg()[0].toFixed(1)}), Node ${process.version}`,
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-bench-sdk-'));
  const env: Record<string, string> = {
    QUARRY_DATA_DIR: path.join(dir, 'data'),
    QUARRY_MODEL_CACHE_DIR: path.join(dir, 'cache'),
    QUARRY_JOB_POLLING_SECONDS: '1',
  };
  const dbName = `quarry_bench_${crypto.randomBytes(4).toString('hex')}`;
  let pgAdmin: Client | undefined;
  if (pg) {
    pgAdmin = new Client({ connectionString: pg });
    await pgAdmin.connect();
    await pgAdmin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(pg);
    u.pathname = `/${dbName}`;
    env.DATABASE_URL = u.toString();
  }
  let server: ServerProcess | undefined;
  try {
    const run = (args: string[]) =>
      execFileSync(process.execPath, [QUARRY, ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .trim();
    run(['migrate']);
    const adminKey = run(['keys', 'create', '--name', 'bench', '--role', 'ADMIN']);
    server = await spawnServer(env);
    const url = server.url;
    const admin = new QuarryClient({ url, apiKey: adminKey });

    const t0 = Date.now();
    const queues: Record<'fetch' | 'sdk', string> = { fetch: '', sdk: '' };
    for (const which of ['fetch', 'sdk'] as const) {
      const dataset = await admin.datasets.create({
        name: `bench-${which}`,
        classes: CLASSES,
        featureDim: DIM,
      });
      const features = Array.from({ length: DIM }, (_, i) => i / DIM);
      await admin.items.import(
        dataset.id,
        (function* () {
          for (let i = 0; i < QUEUE; i++)
            yield { externalId: `item-${i}`, features, payload: { text: `Item number ${i}` } };
        })(),
        { batchSize: 1000 },
      );
      await admin.rounds.start({ datasetId: dataset.id, strategy: 'random', size: QUEUE });
      queues[which] = dataset.id;
    }
    // No ANALYZE here: items.import and the rounds leave the statistics Quarry keeps itself.
    // Annotator keys are an admin's job the SDK leaves to the CLI and the raw API.
    const keys: string[] = [];
    for (let a = 0; a < ANNOTATORS; a++) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({
          query: 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }',
          variables: { i: { name: `annotator-${a}`, role: 'ANNOTATOR' } },
        }),
      });
      const body = (await res.json()) as { data: { createApiKey: { secret: string } } };
      keys.push(body.data.createApiKey.secret);
    }
    console.log(
      `    (setup: 2 datasets x ${int(QUEUE)} items through items.import, random rounds of ${int(QUEUE)}, ${ANNOTATORS} ANNOTATOR keys: ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );

    const bare = keys.map((k) => bareAnnotator(url, k));
    const sdk = keys.map((k) => sdkAnnotator(url, k));
    const stats = { fetch: new SdkLoopStats(), sdk: new SdkLoopStats() };
    const half = SECONDS / 2;
    await runWindow(stats.fetch, queues.fetch, bare, half);
    await runWindow(stats.sdk, queues.sdk, sdk, half);
    await runWindow(stats.sdk, queues.sdk, sdk, half);
    await runWindow(stats.fetch, queues.fetch, bare, half);

    printLoop('bare fetch', stats.fetch);
    printLoop('@quarry/client', stats.sdk);
    let twice = 0;
    for (const which of ['fetch', 'sdk'] as const) {
      const s = stats[which];
      const labels = await countLabels(admin, queues[which]);
      const doubles = s.doubleServes + Math.abs(labels - s.submitted);
      twice += doubles;
      console.log(
        `    ${which}: ${int(s.served.size)} distinct queries claimed, ${int(s.submitted)} submits, ${int(labels)} HUMAN labels stored: ${doubles === 0 ? 'nothing served twice' : `** ${doubles} served twice or lost **`}`,
      );
    }
    const ratio = stats.sdk.rate / stats.fetch.rate;
    console.log(
      `SDK / bare fetch: ${(ratio * 100).toFixed(1)}% of the labels/s (target >= 90%): ${ratio >= 0.9 ? 'PASS' : 'MISS'}; double-serves: ${twice === 0 ? 'none (PASS)' : `${twice} (MISS)`}`,
    );
  } finally {
    await stopServer(server);
    if (pgAdmin) {
      await pgAdmin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
      await pgAdmin.end();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
