/**
 * Labels you can trust, measured on the digits example against its hidden ground truth, as a
 * user would run it (everything through GraphQL; SQL only to read the ground truth):
 *
 * 1. Certified auto-labelling: 20 random splits, each 300 labelled VALIDATION items, 100
 *    labelled POOL items (the seed a softmax model is trained on) and the rest POOL. For each
 *    target (0.95, 0.98, 0.99, confidence 0.95) one `autoLabel(targetPrecision)` run: whether a
 *    threshold was certified, the share of the pool labelled, and the true precision of the
 *    labels. The share of splits meeting the target counts a split that certified nothing as
 *    meeting it (nothing wrong was written); the guarantee is at least 0.95.
 * 2. Streams: 500 digits streamed through each policy with 50 label units, a softmax model on
 *    100 labels: the true precision of each policy's MODEL labels (AUTO_LABELED), and how many
 *    items were held back (SKIPPED) below the threshold in force.
 * 3. The latency of `{ viewer { id } }` while an auto-label run scores the pool.
 *
 *   npm run build && node dist/bench/trust.js [splits]
 */
import './quiet-logs';
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config';
import { openDatabase } from '../src/db/database';
import { ApiKeyRole } from '../src/entities';
import { startServer } from '../src/server';
import { mulberry32, samplePermutation } from '../src/strategies/math';

const DIGITS_CSV = path.resolve(__dirname, '../../examples/data/digits.csv');
const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const TARGETS = [0.9, 0.95, 0.98, 0.99];
const SPLITS = Number(process.argv[2] ?? 20);
const VALIDATION = 300;
const SEED_LABELS = 100;
const STREAMED = 500;
const STREAM_UNITS = 50;

type Gql = (query: string, variables?: Record<string, unknown>) => Promise<any>;

function table(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const row of rows) console.log(row.map((x, c) => x.padEnd(widths[c])).join('  '));
  console.log('');
}

async function main(): Promise<void> {
  const db = await openDatabase({ dataDir: 'memory://' });
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', dataDir: 'memory://' });
  const server = await startServer(config, { db, bootstrapAdminKey: false });
  const { secret } = await server.services.apiKeys.create({
    name: 'bench',
    role: ApiKeyRole.ADMIN,
  });
  const url = `http://127.0.0.1:${server.port}/graphql`;
  const send = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: any; errors?: { message: string }[] };
  };
  const gql: Gql = async (query, variables = {}) => {
    const body = await send(query, variables);
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const poll = async <T>(read: () => Promise<T & { status: string }>): Promise<T> => {
    for (;;) {
      const x = await read();
      if (!['QUEUED', 'RUNNING'].includes(x.status)) return x;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const [header, ...lines] = fs.readFileSync(DIGITS_CSV, 'utf8').trim().split(/\r?\n/);
  const labelAt = header.split(',').indexOf('label');
  const rows = lines.map((line) => {
    const cells = line.split(',');
    return { label: cells[labelAt], features: cells.filter((_, c) => c !== labelAt).map(Number) };
  });

  /** A dataset of the digits in a random split; `streamed` rows are left out (to stream). */
  const dataset = async (
    seed: number,
    opts: { budget?: number; streamed?: number; name?: string } = {},
  ) => {
    const order = samplePermutation(rows.length, rows.length, mulberry32(seed));
    const kept = Array.from(order.subarray(opts.streamed ?? 0));
    const items = kept.map((r, k) => {
      const split = k < VALIDATION ? 'VALIDATION' : 'POOL';
      return {
        externalId: `d${r}`,
        features: rows[r].features,
        split,
        groundTruth: rows[r].label,
        label: k < VALIDATION + SEED_LABELS ? rows[r].label : null,
      };
    });
    const { createDataset } = await gql(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      {
        i: {
          name: opts.name ?? `digits-${seed}`,
          classes: CLASSES,
          featureDim: 64,
          labelBudget: opts.budget ?? null,
        },
      },
    );
    const d = createDataset.id as string;
    await gql(
      'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
      { d, items },
    );
    const { trainModel } = await gql(
      'mutation($i: TrainModelInput!) { trainModel(input: $i) { id } }',
      { i: { datasetId: d, trainer: 'softmax', options: { seed: 3 } } },
    );
    const run: any = await poll(
      async () =>
        (
          await gql(
            'query($id: ID!) { trainingRun(id: $id) { status error model { id metrics { accuracy calibration { temperature } } } } }',
            { id: trainModel.id },
          )
        ).trainingRun,
    );
    if (run.status !== 'SUCCEEDED') throw new Error(`training failed: ${run.error}`);
    return { d, model: run.model, streamedRows: Array.from(order.subarray(0, opts.streamed ?? 0)) };
  };
  const truePrecision = async (where: string, id: string) => {
    const [r] = await db.ds.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE l.class_index = i.ground_truth)::int AS right
       FROM label l JOIN item i ON i.id = l.item_id WHERE ${where} = $1 AND l.source = 'MODEL'`,
      [id],
    );
    return r as { n: number; right: number };
  };

  /** `{ viewer { id } }` latencies (ms) while a fixed-threshold run labels the pool. */
  const viewerDuringRun = async (d: string, modelId: string): Promise<number[]> => {
    const { autoLabel } = await gql(
      'mutation($i: AutoLabelInput!) { autoLabel(input: $i) { id } }',
      { i: { datasetId: d, modelId, threshold: 0.5, auditRate: 0 } },
    );
    const latencies: number[] = [];
    for (;;) {
      const at = performance.now();
      await gql('{ viewer { id } }');
      latencies.push(performance.now() - at);
      const { autoLabelRun } = await gql('query($id: ID!) { autoLabelRun(id: $id) { status } }', {
        id: autoLabel.id,
      });
      if (!['QUEUED', 'RUNNING'].includes(autoLabelRun.status)) break;
    }
    await gql('mutation($id: ID!) { revokeAutoLabels(runId: $id) { id } }', { id: autoLabel.id });
    return latencies;
  };

  try {
    // 1. Certified auto-labelling over random splits.
    const tally = TARGETS.map(() => ({
      certified: 0,
      met: 0,
      coverage: [] as number[],
      precision: [] as number[],
    }));
    let viewer: number[] = [];
    const started = performance.now();
    for (let split = 0; split < SPLITS; split++) {
      const { d, model } = await dataset(1000 + split);
      if (split === 0) viewer = await viewerDuringRun(d, model.id);
      for (const [t, target] of TARGETS.entries()) {
        const body = await send('mutation($i: AutoLabelInput!) { autoLabel(input: $i) { id } }', {
          i: { datasetId: d, modelId: model.id, targetPrecision: target, auditRate: 0 },
        });
        if (body.errors) {
          if (!/No threshold can be certified/.test(body.errors[0].message)) {
            throw new Error(body.errors[0].message);
          }
          tally[t].met += 1;
          continue;
        }
        const id = body.data.autoLabel.id;
        const run: any = await poll(
          async () =>
            (
              await gql(
                'query($id: ID!) { autoLabelRun(id: $id) { id status error labelledCount scoredCount } }',
                { id },
              )
            ).autoLabelRun,
        );
        if (run.status !== 'SUCCEEDED') throw new Error(`run failed: ${run.error}`);
        const { n, right } = await truePrecision('l.run_id', id);
        tally[t].certified += 1;
        tally[t].coverage.push(run.labelledCount / run.scoredCount);
        if (n > 0) tally[t].precision.push(right / n);
        if (n === 0 || right / n >= target) tally[t].met += 1;
        await gql('mutation($id: ID!) { revokeAutoLabels(runId: $id) { id } }', { id });
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
    console.log(
      `Certified auto-labelling, digits, ${SPLITS} random splits (${VALIDATION} VALIDATION labels, softmax on ${SEED_LABELS} labels, confidence 0.95), ${seconds.toFixed(0)} s:\n`,
    );
    table([
      [
        'target',
        'splits certified',
        'splits meeting target',
        'mean pool share labelled',
        'mean true precision',
        'min true precision',
      ],
      ...TARGETS.map((target, t) => [
        target.toFixed(2),
        `${tally[t].certified}/${SPLITS}`,
        `${tally[t].met}/${SPLITS} (${((100 * tally[t].met) / SPLITS).toFixed(0)}%)`,
        tally[t].certified ? `${(100 * mean(tally[t].coverage)).toFixed(1)}%` : '-',
        tally[t].precision.length ? mean(tally[t].precision).toFixed(4) : '-',
        tally[t].precision.length ? Math.min(...tally[t].precision).toFixed(4) : '-',
      ]),
    ]);
    if (viewer.length > 0) {
      const sorted = [...viewer].sort((a, b) => a - b);
      console.log(
        `{ viewer { id } } during an auto-label run (threshold 0.5, embedded database): ${viewer.length} requests, p50 ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms\n`,
      );
    }

    // 2. Streams.
    const policies: [string, Record<string, unknown>][] = [
      ['fixed-threshold', { threshold: 0.9 }],
      ['variable-threshold', { budgetUnits: STREAM_UNITS, expectedLength: STREAMED }],
      ['randomized-variable-threshold', { budgetUnits: STREAM_UNITS, expectedLength: STREAMED }],
    ];
    const streamRows: string[][] = [
      [
        'policy',
        'queried',
        'auto-labelled',
        'skipped',
        'deferred',
        'true precision of MODEL labels',
        'thresholds',
      ],
    ];
    for (const [code, params] of policies) {
      const { d, model, streamedRows } = await dataset(77, {
        budget: STREAM_UNITS,
        streamed: STREAMED,
        name: `stream-${code}`,
      });
      const counts: Record<string, number> = {
        QUERIED: 0,
        AUTO_LABELED: 0,
        SKIPPED: 0,
        DEFERRED: 0,
      };
      let lo = Infinity;
      let hi = -Infinity;
      for (let from = 0; from < STREAMED; from += 100) {
        const { streamItems } = await gql(
          `mutation($d: ID!, $m: ID!, $items: [ImportItemInput!]!, $p: StreamPolicyInput!) {
            streamItems(datasetId: $d, modelId: $m, items: $items, policy: $p) { decisions { decision threshold } } }`,
          {
            d,
            m: model.id,
            p: { code, params },
            items: streamedRows.slice(from, from + 100).map((r) => ({
              externalId: `s${r}`,
              features: rows[r].features,
              groundTruth: rows[r].label,
            })),
          },
        );
        for (const x of streamItems.decisions) {
          counts[x.decision] += 1;
          lo = Math.min(lo, x.threshold);
          hi = Math.max(hi, x.threshold);
        }
      }
      const [{ id: streamId }] = await db.ds.query('SELECT id FROM stream WHERE dataset_id = $1', [
        d,
      ]);
      const { n, right } = await truePrecision('l.run_id', streamId);
      streamRows.push([
        code,
        String(counts.QUERIED),
        String(counts.AUTO_LABELED),
        String(counts.SKIPPED),
        String(counts.DEFERRED),
        n ? `${(right / n).toFixed(4)} (${n})` : '-',
        `${lo.toFixed(3)}..${hi.toFixed(3)}`,
      ]);
    }
    console.log(
      `Streams: ${STREAMED} digits, ${STREAM_UNITS} label units, softmax on ${SEED_LABELS} labels:\n`,
    );
    table(streamRows);
  } finally {
    await server.stop();
    await db.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
