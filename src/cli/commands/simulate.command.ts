import fs from 'node:fs';
import { SingleBar, Presets } from 'cli-progress';
import { parse } from 'csv-parse/sync';
import { SimulateDocument, SimulationDocument } from '@quarry/client';
import type { CliClient } from '../options';
import { mulberry32, seedFrom } from '../../strategies/math';
import { renderLearningCurvesSvg, formatSimulationTable } from '../../ml/simulation-chart';
import type { SimulationResult } from '../../ml/simulation-chart';
import { runSimulationInWorker } from '../../workers/simulation.worker';
import { loadConfig } from '../../config';
import { err, out } from '../output';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SimulateOptions {
  strategies: string[];
  seedSize: number;
  batchSize: number;
  budget: number;
  repeats: number;
  trainer: string;
  trainerOptions?: string;
  seed?: number;
  out?: string;
  progress: boolean;
}

function progressBar(enabled: boolean): SingleBar | undefined {
  return enabled && process.stderr.isTTY
    ? new SingleBar(
        { format: 'simulating [{bar}] {value}/{total} steps | eta {eta}s', stream: process.stderr },
        Presets.shades_classic,
      )
    : undefined;
}

function parseJson(text: string | undefined, what: string): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what} must be JSON; got ${text}`);
  }
}

async function report(result: SimulationResult, opts: SimulateOptions, title: string) {
  out(formatSimulationTable(result));
  if (opts.out) {
    fs.writeFileSync(opts.out, await renderLearningCurvesSvg(result, { title }));
    err(`Wrote the learning curves to ${opts.out}.`);
  }
}

/** `quarry simulate --dataset`: runs the simulation as a job on the server and follows it. */
export async function simulateOnServer(
  client: CliClient,
  dataset: { id: string; name: string },
  opts: SimulateOptions,
): Promise<void> {
  const { simulate } = await client.sdk.request(SimulateDocument, {
    input: {
      datasetId: dataset.id,
      strategies: opts.strategies.map((s) => ({ strategy: s })),
      seedSize: opts.seedSize,
      batchSize: opts.batchSize,
      budget: opts.budget,
      repeats: opts.repeats,
      trainer: opts.trainer,
      trainerOptions: parseJson(opts.trainerOptions, '--trainer-options'),
      seed: opts.seed,
    },
  });
  const bar = progressBar(opts.progress);
  let started = false;
  for (;;) {
    const { simulation: s } = await client.sdk.request(SimulationDocument, { id: simulate.id });
    if (bar && s.progressTotal) {
      if (!started) bar.start(s.progressTotal, 0);
      started = true;
      bar.update(s.progressDone);
    }
    if (s.status === 'FAILED') {
      bar?.stop();
      throw new Error(`The simulation failed: ${s.error}`);
    }
    if (s.status === 'SUCCEEDED') {
      bar?.stop();
      const result: SimulationResult = {
        labelCounts: s.curves![0].points.map((p) => p.labels),
        strategies: s.curves!.map((c) => ({ code: c.strategy, points: c.points, auc: c.auc })),
        trainer: { code: (s.params as { trainer: string }).trainer },
      };
      await report(result, opts, `${dataset.name}: ${opts.repeats} repeats`);
      return;
    }
    await sleep(300);
  }
}

/**
 * `quarry simulate --csv`: runs the simulation in this process, straight from a labelled CSV
 * (feature columns and a label column), with `testShare` of the rows held out as TEST.
 */
export async function simulateFromCsv(
  file: string,
  opts: SimulateOptions & { labelColumn: string; testShare: number },
): Promise<void> {
  const records: Record<string, string>[] = parse(fs.readFileSync(file), {
    columns: true,
    skip_empty_lines: true,
    trim: true,
  });
  if (records.length === 0) throw new Error(`${file} has no rows.`);
  const columns = Object.keys(records[0]);
  if (!columns.includes(opts.labelColumn)) {
    throw new Error(`${file} has no column ${JSON.stringify(opts.labelColumn)} (--label-column).`);
  }
  const featureColumns = columns.filter(
    (c) => c !== opts.labelColumn && c !== 'id' && c !== 'split',
  );
  const classes = [...new Set(records.map((r) => r[opts.labelColumn]))].sort();
  const dim = featureColumns.length;
  const features = new Float32Array(records.length * dim);
  records.forEach((r, i) =>
    featureColumns.forEach((c, j) => {
      const v = Number(r[c]);
      if (!Number.isFinite(v)) throw new Error(`${file} row ${i + 1}: ${c} is not a number.`);
      features[i * dim + j] = v;
    }),
  );
  const seed = opts.seed ?? 1;
  const random = mulberry32(seedFrom(seed));
  const split = Uint8Array.from(records, () => (random() < opts.testShare ? 2 : 0));
  const config = loadConfig(process.env);
  const bar = progressBar(opts.progress);
  let started = false;
  const result = await runSimulationInWorker(
    {
      features,
      rows: records.length,
      dim,
      classCount: classes.length,
      groundTruth: Int32Array.from(records, (r) => classes.indexOf(r[opts.labelColumn])),
      split,
      strategies: opts.strategies.map((code) => ({ code })),
      seedSize: opts.seedSize,
      batchSize: opts.batchSize,
      budget: opts.budget,
      repeats: opts.repeats,
      trainer: { code: opts.trainer, options: parseJson(opts.trainerOptions, '--trainer-options') },
      seed,
    },
    {
      strategyModules: config.strategyModules,
      trainerModules: config.trainerModules,
      onProgress: ({ done, total }: { done: number; total: number }) => {
        if (!bar) return;
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(done);
      },
    },
  );
  bar?.stop();
  await report(result, opts, `${file}: ${opts.repeats} repeats`);
}
