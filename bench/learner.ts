/**
 * Quarry's `softmax` trainer against scikit-learn's `LogisticRegression(C=10)` on identical
 * label sets of the digits (bench/digits.ts: every third row TEST, the rest POOL): for 20, 60,
 * 100, 140, 200 and 300 labels and all POOL rows, 5 seeded random label sets each, the mean test
 * accuracy of
 * - scikit-learn: `StandardScaler` fitted on all rows' features (labelled or not, as a notebook
 *   does), then `LogisticRegression(C=10)` (lbfgs, its defaults otherwise) on the label set;
 * - Quarry `softmax {C: 10}`: the same model (standardisation from the whole dataset, the default);
 * - Quarry `softmax {C: 10, standardize: "labelled"}`: the scaler of the labelled rows only
 *   (what the trainer did before);
 * - Quarry `softmax` with its defaults: C chosen by cross-validation.
 * Target: Quarry C=10 within 0.5 points of scikit-learn at every count from 60 to 300.
 * scikit-learn runs in `python3` (Debian's python3-sklearn); without it the bench says so and
 * prints Quarry's columns only.
 *
 *   npm run build && node dist/bench/learner.js
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { gatherRows } from '../src/strategies/rows';
import { classificationMetrics } from '../src/ml/classification-metrics';
import { SPLIT } from '../src/ml/simulation-engine';
import { fitStandardizer } from '../src/plugins/trainers/data';
import { loadTrainers, trainWith } from '../src/plugins/trainers/registry';
import { mulberry32, samplePermutation, seedFrom } from '../src/strategies/math';
import { digits } from './digits';

const COUNTS = [20, 60, 100, 140, 200, 300, 0];
const SETS = 5;
const TARGET_POINTS = 0.5;
const VARIANTS: { name: string; options: Record<string, unknown> }[] = [
  { name: 'quarry C=10', options: { C: 10 } },
  { name: 'quarry C=10 labelled-scaler', options: { C: 10, standardize: 'labelled' } },
  { name: 'quarry CV', options: {} },
];

const SKLEARN = `
import json, sys, warnings
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
warnings.filterwarnings('ignore')
job = json.load(open(sys.argv[1]))
X = np.array(job['features'], dtype=np.float64).reshape(job['rows'], job['dim'])
y = np.array(job['labels'])
Xs = StandardScaler().fit(X).transform(X)
test = np.array(job['test'])
out = []
for rows in job['sets']:
    rows = np.array(rows)
    model = LogisticRegression(C=10).fit(Xs[rows], y[rows])
    out.append(float((model.predict(Xs[test]) == y[test]).mean()))
print(json.dumps(out))
`;

function sklearnAccuracies(
  data: ReturnType<typeof digits>,
  test: number[],
  sets: number[][],
): number[] | string {
  // Debian's python3-sklearn installs for /usr/bin/python3, which a pyenv shim may shadow.
  const candidates = [process.env.QUARRY_BENCH_PYTHON, 'python3', '/usr/bin/python3'];
  let python = '';
  let version = '';
  for (const candidate of candidates) {
    if (!candidate) continue;
    const probe = spawnSync(candidate, ['-c', 'import sklearn; print(sklearn.__version__)'], {
      encoding: 'utf8',
    });
    if (probe.status === 0) {
      python = candidate;
      version = probe.stdout.trim();
      break;
    }
  }
  if (!python) {
    return 'scikit-learn is not installed (apt-get install python3-sklearn, or set QUARRY_BENCH_PYTHON): no reference column';
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-bench-'));
  try {
    const job = path.join(dir, 'job.json');
    fs.writeFileSync(
      job,
      JSON.stringify({
        features: Array.from(data.features),
        rows: data.rows,
        dim: data.dim,
        labels: Array.from(data.groundTruth),
        test,
        sets,
      }),
    );
    const run = spawnSync(python, ['-c', SKLEARN, job], { encoding: 'utf8' });
    if (run.status !== 0) return `scikit-learn failed: ${run.stderr.slice(0, 500)}`;
    console.log(`reference: scikit-learn ${version} (${python})`);
    return JSON.parse(run.stdout) as number[];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function mean(values: number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

function main(): void {
  const data = digits();
  const registry = loadTrainers();
  const pool: number[] = [];
  const test: number[] = [];
  for (let r = 0; r < data.rows; r++) (data.split[r] === SPLIT.TEST ? test : pool).push(r);
  const testRows = Int32Array.from(test);
  const testFeatures = gatherRows(data.features, data.dim, testRows);
  const testTruth = Int32Array.from(test, (r) => data.groundTruth[r]);
  const datasetStandardizer = fitStandardizer(data.features, data.rows, data.dim);

  const counts = COUNTS.map((n) => (n === 0 ? pool.length : n));
  const sets: number[][] = [];
  for (const n of counts) {
    for (let s = 0; s < SETS; s++) {
      const random = mulberry32(seedFrom(`learner-bench:${n}:${s}`));
      const order = samplePermutation(pool.length, n, random);
      sets.push(Array.from(order, (i) => pool[i]));
    }
  }

  const reference = sklearnAccuracies(data, test, sets);
  if (typeof reference === 'string') console.log(reference);
  const columns: { name: string; accuracies: number[]; seconds: number }[] = [];
  for (const variant of VARIANTS) {
    const started = performance.now();
    const accuracies = sets.map((rows) => {
      const index = Int32Array.from(rows);
      const { model } = trainWith(
        registry,
        'softmax',
        {
          features: gatherRows(data.features, data.dim, index),
          labels: Int32Array.from(rows, (r) => data.groundTruth[r]),
          rows: rows.length,
          dim: data.dim,
          classCount: data.classCount,
          datasetStandardizer,
        },
        variant.options,
      );
      const { probabilities } = model.predict(testFeatures, test.length);
      return classificationMetrics(testTruth, probabilities, data.classCount).accuracy;
    });
    columns.push({ name: variant.name, accuracies, seconds: (performance.now() - started) / 1000 });
  }

  console.log(
    `digits: ${pool.length} POOL rows, ${test.length} TEST rows; ${SETS} random label sets per count; mean test accuracy\n`,
  );
  const header = ['labels', ...(Array.isArray(reference) ? ['sklearn C=10'] : [])];
  header.push(...columns.map((c) => c.name), 'C=10 - sklearn (points)');
  const table: string[][] = [header];
  let worst = 0;
  counts.forEach((n, k) => {
    const slice = (values: number[]) => values.slice(k * SETS, (k + 1) * SETS);
    const row = [String(n)];
    const ours = mean(slice(columns[0].accuracies));
    let gap = '';
    if (Array.isArray(reference)) {
      const theirs = mean(slice(reference));
      row.push(theirs.toFixed(3));
      const points = (ours - theirs) * 100;
      if (n >= 60 && n <= 300) worst = Math.max(worst, Math.abs(points));
      gap = `${points >= 0 ? '+' : ''}${points.toFixed(2)}`;
    }
    row.push(...columns.map((c) => mean(slice(c.accuracies)).toFixed(3)), gap);
    table.push(row);
  });
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const row of table) console.log(row.map((cell, c) => cell.padStart(widths[c])).join('  '));
  console.log(
    `\ntraining seconds (all ${sets.length} sets): ` +
      columns.map((c) => `${c.name} ${c.seconds.toFixed(1)}`).join(', '),
  );
  if (Array.isArray(reference)) {
    console.log(
      `largest |quarry C=10 - sklearn| from 60 to 300 labels: ${worst.toFixed(2)} points ` +
        `(target <= ${TARGET_POINTS}): ${worst <= TARGET_POINTS ? 'met' : 'NOT met'}`,
    );
  }
}

main();
