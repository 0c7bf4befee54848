/**
 * Batch-selection benchmark: k-center, BADGE and cluster-margin selecting 1,000 from 100,000
 * items with 256-wide embeddings (the ReLU embedding of a 128-256-10 MLP over random features,
 * as in `bench:rounds`). For each it prints, in one run:
 *   - Quarry: `InferencePool.select` on every inference thread (the selection team: shared
 *     WebAssembly memory, SIMD kernel), as a round runs it, copies included;
 *   - the JS single-thread baseline: the implementation before the team (bench/reference), in
 *     this thread, and whether its picks are the same (they must be);
 *   - the numpy reference when `python3` with numpy is present: the notebook greedy, a float32
 *     matrix-vector product per pick, on every BLAS thread (for cluster-margin: scipy's
 *     average-linkage clustering of the same candidates, when scipy is present).
 *
 *   npm run bench:selection     # or: node dist/bench/selection.js [items] [picks]
 *   QUARRY_BENCH_BASELINE=0     skips the (slow) JS single-thread baseline
 *   QUARRY_BENCH_STRATEGIES=k-center,badge   runs only these
 */
import { execFileSync } from 'node:child_process';
import { POOL, poolFeatures, poolModel } from './synthetic';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mulberry32 } from '../src/strategies/math';
import type { BatchStrategy, Pick, ScoredRows } from '../src/strategies/types';
import { InferencePool } from '../src/workers/inference.pool';
import { badge as badgeReference } from './reference/badge.reference';
import { clusterMargin as clusterMarginReference } from './reference/cluster-margin.reference';
import { kCenter as kCenterReference } from './reference/k-center.reference';

const ITEMS = Number(process.argv[2] ?? 100_000);
const PICKS = Number(process.argv[3] ?? 1000);
const BASELINE = process.env.QUARRY_BENCH_BASELINE !== '0';
const { dim: DIM, hidden: HIDDEN, classes: CLASSES } = POOL;
const CHUNK = 20_000;
const SEED = 1;
const BUILTINS = path.resolve(__dirname, '../src/strategies/builtin/index.js');

const CASES: { code: string; params: Record<string, unknown>; reference: BatchStrategy<any> }[] = [
  { code: 'k-center', params: { candidatePool: 0 }, reference: kCenterReference },
  { code: 'badge', params: { candidatePool: 0 }, reference: badgeReference },
  {
    code: 'cluster-margin',
    params: { candidatePool: 5000, clusterCount: 0 },
    reference: clusterMarginReference,
  },
];

const model = poolModel;
const features = poolFeatures;

/** The pool's probabilities and embeddings, from the model, through the inference pool. */
async function scoredPool(pool: InferencePool, dir: string): Promise<ScoredRows> {
  const onnx = model();
  const modelPath = path.join(dir, 'model.onnx');
  fs.writeFileSync(modelPath, onnx);
  const ref = {
    sha256: crypto.createHash('sha256').update(onnx).digest('hex'),
    path: modelPath,
    inputName: 'features',
    outputName: 'probabilities',
    outputKind: 'PROBABILITIES' as const,
    embeddingOutputName: 'embedding',
  };
  const probabilities = new Float32Array(ITEMS * CLASSES);
  const embeddings = new Float32Array(ITEMS * HIDDEN);
  for (let s = 0; s < ITEMS; s += CHUNK) {
    const rows = Math.min(CHUNK, ITEMS - s);
    const result = await pool.score({
      models: [ref],
      features: features(s, rows),
      rows,
      dim: DIM,
      embeddings: true,
    });
    probabilities.set(result.all!.probabilities[0], s * CLASSES);
    embeddings.set(result.all!.embeddings!, s * HIDDEN);
  }
  return {
    rows: ITEMS,
    classCount: CLASSES,
    probabilities: [probabilities],
    embeddings,
    embeddingDim: HIDDEN,
  };
}

function copy(pool: ScoredRows): ScoredRows {
  return {
    ...pool,
    probabilities: pool.probabilities.map((p) => p.slice()),
    embeddings: pool.embeddings?.slice(),
  };
}

const NUMPY = String.raw`
import sys, time
import numpy as np
kind, emb, prob, n, d, k, picks = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:8])
E = np.fromfile(emb, dtype=np.float32).reshape(n, d)
P = np.fromfile(prob, dtype=np.float32).reshape(n, k)
t = time.perf_counter()
if kind == 'k-center':
    sq = np.einsum('ij,ij->i', E, E)
    mean = E.mean(axis=0, dtype=np.float64).astype(np.float32)
    nxt = int(np.argmax(((E - mean) ** 2).sum(axis=1)))
    min_d = np.full(n, np.inf, dtype=np.float32)
    for _ in range(picks - 1):
        dist = sq - 2.0 * (E @ E[nxt]) + sq[nxt]
        np.minimum(min_d, dist, out=min_d)
        min_d[nxt] = -np.inf
        nxt = int(np.argmax(min_d))
elif kind == 'badge':
    y = P.argmax(axis=1)
    a2 = (P * P).sum(axis=1) - 2 * P[np.arange(n), y] + 1
    g2 = a2 * np.einsum('ij,ij->i', E, E)
    rng = np.random.default_rng(1)
    nxt = int(np.argmax(g2))
    min_d = np.full(n, np.inf, dtype=np.float32)
    for _ in range(picks - 1):
        c = nxt
        aa = P @ P[c] - P[:, y[c]] - P[c, y] + (y == y[c])
        d2 = g2 + g2[c] - 2 * aa * (E @ E[c])
        np.maximum(d2, 0, out=d2)
        np.minimum(min_d, d2, out=min_d)
        min_d[c] = 0
        cs = np.cumsum(min_d)
        nxt = int(np.searchsorted(cs, rng.random() * cs[-1], side='right'))
else:
    from scipy.cluster.hierarchy import fcluster, linkage
    top = np.sort(P, axis=1)
    margin = top[:, -1] - top[:, -2]
    cand = np.sort(np.argsort(margin, kind='stable')[:5000])
    fcluster(linkage(E[cand], method='average'), picks, criterion='maxclust')
print(time.perf_counter() - t)
`;

/** Seconds the numpy (or scipy) reference takes, or why it did not run. */
function numpy(kind: string, dir: string): string {
  try {
    const out = execFileSync(
      'python3',
      [
        '-c',
        NUMPY,
        kind,
        path.join(dir, 'e.f32'),
        path.join(dir, 'p.f32'),
        ...[ITEMS, HIDDEN, CLASSES, PICKS].map(String),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return `${Number(out.trim()).toFixed(2)} s`;
  } catch (error) {
    const text = String((error as { stderr?: string }).stderr ?? error);
    return `not run (${text.trim().split('\n').pop()})`;
  }
}

const same = (a: Pick[], b: Pick[]) =>
  a.length === b.length && a.every((p, i) => p.index === b[i].index && p.score === b[i].score);

async function main(): Promise<void> {
  const threads = os.availableParallelism();
  console.log(
    `Selection benchmark: ${PICKS.toLocaleString('en')} of ${ITEMS.toLocaleString('en')} items, embedding ${HIDDEN} (MLP ${DIM}-${HIDDEN}-${CLASSES}), ${threads} inference threads, Node ${process.version}`,
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-bench-selection-'));
  const pool = new InferencePool({ threads });
  try {
    const scored = await scoredPool(pool, dir);
    fs.writeFileSync(path.join(dir, 'e.f32'), scored.embeddings!);
    fs.writeFileSync(path.join(dir, 'p.f32'), scored.probabilities[0]);
    const only = process.env.QUARRY_BENCH_STRATEGIES?.split(',');
    for (const { code, params, reference } of CASES) {
      if (only && !only.includes(code)) continue;
      const t0 = performance.now();
      const picks = await pool.select({
        strategy: { modulePath: BUILTINS, code, params },
        size: PICKS,
        seed: SEED,
        pool: copy(scored),
      });
      const quarry = (performance.now() - t0) / 1000;
      let baseline = 'skipped';
      if (BASELINE) {
        const t1 = performance.now();
        const expected = reference.select({
          size: PICKS,
          params,
          pool: scored,
          random: mulberry32(SEED),
        });
        const secs = (performance.now() - t1) / 1000;
        baseline = `${secs.toFixed(2)} s (${(secs / quarry).toFixed(1)}x Quarry; same picks: ${same(picks, expected) ? 'yes' : 'NO'})`;
      }
      const kind = code === 'cluster-margin' ? 'scipy average linkage' : 'numpy';
      console.log(`${code.padEnd(15)} Quarry, ${threads} threads: ${quarry.toFixed(2)} s`);
      console.log(`${''.padEnd(15)} JS single thread (before): ${baseline}`);
      console.log(`${''.padEnd(15)} ${kind} reference: ${numpy(code, dir)}`);
    }
  } finally {
    await pool.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
