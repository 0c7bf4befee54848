/**
 * Active-learning simulations on the digits example (`examples/data/digits.csv`, 1797 rows, 64
 * grey levels scaled by 1/16, 10 classes; every third row TEST, the rest POOL): for each
 * strategy, the mean test accuracy (± sample standard deviation over the repeats) at 20, 60,
 * 100, 140 and 200 labels, the area under the learning curve, and the time. 5 repeats, seed set
 * 20, batch 20, budget 200, one thread. Every strategy starts each repeat from the same seed set.
 *
 * k-center and BADGE use the trained model's embedding output: for softmax, the standardised
 * input; for mlp, the hidden layer.
 *
 * Committee strategies (vote-entropy, kl-consensus) get the simulation's default committee of 3.
 * Ends with the margin curve's lead over random at 100 and 200 labels (target: 2 points).
 *
 *   npm run build && node dist/bench/simulation.js [trainer] [options-json] [strategy,...]
 *   e.g. node dist/bench/simulation.js mlp '{"hiddenUnits":32}' random,margin
 */
import { performance } from 'node:perf_hooks';
import { runSimulation, SPLIT, type SimulationStrategyResult } from '../src/ml/simulation-engine';
import { digits } from './digits';
import { loadStrategies } from '../src/strategies/registry';
import { loadTrainers } from '../src/plugins/trainers/registry';

const STRATEGIES = process.argv[4]
  ? process.argv[4].split(',')
  : [
      'random',
      'least-confidence',
      'margin',
      'entropy',
      'k-center',
      'badge',
      'vote-entropy',
      'kl-consensus',
    ];
const SHOWN_LABELS = [20, 60, 100, 140, 200];
const TRAINER = process.argv[2] ?? 'softmax';
const TRAINER_OPTIONS = process.argv[3] ? JSON.parse(process.argv[3]) : undefined;

function main(): void {
  const data = digits();
  const registries = { strategies: loadStrategies(), trainers: loadTrainers() };
  const started = performance.now();
  const table: string[][] = [
    ['strategy', ...SHOWN_LABELS.map((n) => `${n} labels`), 'AUC', 'seconds'],
  ];
  let trainerOptions: Record<string, unknown> = {};
  const results = new Map<string, SimulationStrategyResult>();
  for (const code of STRATEGIES) {
    const result = runSimulation(
      {
        ...data,
        strategies: [{ code }],
        seedSize: 20,
        batchSize: 20,
        budget: 200,
        repeats: 5,
        trainer: { code: TRAINER, options: TRAINER_OPTIONS },
        seed: 20,
      },
      registries,
    );
    trainerOptions = result.trainer.options;
    const [s] = result.strategies;
    results.set(code, s);
    const byLabels = new Map(s.points.map((p) => [p.labels, p]));
    table.push([
      code,
      ...SHOWN_LABELS.map((n) => {
        const p = byLabels.get(n)!;
        return `${p.meanAccuracy.toFixed(3)} ± ${p.stdAccuracy.toFixed(3)}`;
      }),
      `${s.auc.mean.toFixed(4)} ± ${s.auc.std.toFixed(4)}`,
      result.seconds.toFixed(1),
    ]);
  }
  const totalSeconds = (performance.now() - started) / 1000;
  console.log(
    `digits: ${data.rows} rows (${data.split.filter((s) => s === SPLIT.POOL).length} POOL, ` +
      `${data.split.filter((s) => s === SPLIT.TEST).length} TEST), trainer ${TRAINER} ` +
      `${JSON.stringify(trainerOptions)}, 5 repeats, seed 20, batch 20, budget 200, ` +
      `Node ${process.version}, one thread`,
  );
  console.log('mean test accuracy ± std over the repeats; AUC of accuracy against labels\n');
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const row of table) {
    console.log(
      row
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
        .join('  '),
    );
  }
  const at = (code: string, n: number) =>
    results.get(code)?.points.find((p) => p.labels === n)?.meanAccuracy;
  for (const n of [100, 200]) {
    const margin = at('margin', n);
    const random = at('random', n);
    if (margin === undefined || random === undefined) continue;
    const lead = (margin - random) * 100;
    console.log(
      `margin - random at ${n} labels: ${lead >= 0 ? '+' : ''}${lead.toFixed(1)} points (target >= 2): ${lead >= 2 ? 'met' : 'NOT met'}`,
    );
  }
  console.log(`\ntotal ${totalSeconds.toFixed(1)} s`);
}

main();
