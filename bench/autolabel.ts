/**
 * Auto-labelling on the digits example (`examples/data/digits.csv`, 1797 rows, 64 grey levels,
 * 10 classes): every 5th row TEST, every 5th (offset 1) VALIDATION with its label, the rest POOL
 * with only its hidden ground truth, 100 POOL items labelled as the seed. A model is trained on
 * the seed (softmax by default), then for each threshold one auto-label run (no audits) labels
 * the pool; the table shows the share of the unlabelled pool it labelled, the true precision of
 * those labels against the hidden ground truth, and what the validation items predicted (with
 * its exact 95% interval). Each run is revoked before the next. In-process server on the
 * embedded database, everything through GraphQL.
 *
 *   npm run build && node dist/bench/autolabel.js [trainer] [options-json]
 */
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config';
import { openDatabase } from '../src/db/database';
import { ApiKeyRole } from '../src/entities';
import { startServer } from '../src/server';

const DIGITS_CSV = path.resolve(__dirname, '../../examples/data/digits.csv');
const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const THRESHOLDS = [0.8, 0.9, 0.95, 0.99];
const SEED_LABELS = 100;
const TRAINER = process.argv[2] ?? 'softmax';
const TRAINER_OPTIONS = process.argv[3] ? JSON.parse(process.argv[3]) : { seed: 3 };

const RUN_FIELDS = `id status error labelledCount scoredCount validation { count precision lower upper }`;

async function main(): Promise<void> {
  const db = await openDatabase({ dataDir: 'memory://' });
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', dataDir: 'memory://' });
  const server = await startServer(config, { db, bootstrapAdminKey: false });
  const { secret } = await server.services.apiKeys.create({
    name: 'bench',
    role: ApiKeyRole.ADMIN,
  });
  const url = `http://127.0.0.1:${server.port}/graphql`;
  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: any; errors?: unknown[] };
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
  try {
    const [header, ...lines] = fs.readFileSync(DIGITS_CSV, 'utf8').trim().split(/\r?\n/);
    const labelAt = header.split(',').indexOf('label');
    let pool = 0;
    const items = lines.map((line, i) => {
      const cells = line.split(',');
      const label = cells[labelAt];
      const features = cells.filter((_, c) => c !== labelAt).map(Number);
      const split = i % 5 === 0 ? 'TEST' : i % 5 === 1 ? 'VALIDATION' : 'POOL';
      const seeded = split === 'POOL' && pool++ < SEED_LABELS;
      return {
        externalId: `d${i}`,
        features,
        split,
        groundTruth: label,
        label: split === 'VALIDATION' || seeded ? label : null,
      };
    });
    const { createDataset } = await gql(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { name: 'digits', classes: CLASSES, featureDim: 64 } },
    );
    const d = createDataset.id;
    await gql(
      'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
      { d, items },
    );
    const { trainModel } = await gql(
      'mutation($i: TrainModelInput!) { trainModel(input: $i) { id } }',
      { i: { datasetId: d, trainer: TRAINER, options: TRAINER_OPTIONS } },
    );
    const run = await poll(
      async () =>
        (
          await gql(
            'query($id: ID!) { trainingRun(id: $id) { status error model { id metrics { accuracy } } } }',
            { id: trainModel.id },
          )
        ).trainingRun,
    );
    const trained = run as { status: string; error: string | null; model: any };
    if (trained.status !== 'SUCCEEDED') throw new Error(`training failed: ${trained.error}`);
    const modelId = trained.model.id;
    console.log(
      `digits: ${items.length} rows, ${pool} POOL (${SEED_LABELS} labelled), ${TRAINER} ${JSON.stringify(TRAINER_OPTIONS)}, validation accuracy ${trained.model.metrics.accuracy.toFixed(3)}\n`,
    );
    const table: string[][] = [
      [
        'threshold',
        'pool share labelled',
        'labels',
        'true precision',
        'validation precision [exact 95% CI] (n)',
        'seconds',
      ],
    ];
    for (const threshold of THRESHOLDS) {
      const started = performance.now();
      const { autoLabel } = await gql(
        `mutation($i: AutoLabelInput!) { autoLabel(input: $i) { id } }`,
        { i: { datasetId: d, modelId, threshold, auditRate: 0 } },
      );
      const done: any = await poll(
        async () =>
          (
            await gql(`query($id: ID!) { autoLabelRun(id: $id) { ${RUN_FIELDS} } }`, {
              id: autoLabel.id,
            })
          ).autoLabelRun,
      );
      const seconds = (performance.now() - started) / 1000;
      if (done.status !== 'SUCCEEDED') throw new Error(`run failed: ${done.error}`);
      const [{ right }] = await db.ds.query(
        `SELECT count(*) FILTER (WHERE l.class_index = i.ground_truth)::int AS right
         FROM label l JOIN item i ON i.id = l.item_id WHERE l.run_id = $1`,
        [done.id],
      );
      const v = done.validation;
      table.push([
        threshold.toFixed(2),
        `${((100 * done.labelledCount) / done.scoredCount).toFixed(1)}% of ${done.scoredCount}`,
        String(done.labelledCount),
        done.labelledCount ? (right / done.labelledCount).toFixed(4) : '-',
        v.precision === null
          ? '-'
          : `${v.precision.toFixed(4)} [${v.lower.toFixed(3)}, ${v.upper.toFixed(3)}] (${v.count})`,
        seconds.toFixed(2),
      ]);
      await gql('mutation($id: ID!) { revokeAutoLabels(runId: $id) { id } }', { id: done.id });
    }
    const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
    for (const row of table) console.log(row.map((x, c) => x.padEnd(widths[c])).join('  '));
  } finally {
    await server.stop();
    await db.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
