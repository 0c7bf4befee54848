/**
 * The batch strategies' distance passes on a selection team (shared WebAssembly memory, SIMD
 * kernel, every inference thread) give the same picks as the single-thread implementation they
 * replaced, kept verbatim in ./reference as the oracle, for any number of threads.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { badge } from '../../../src/strategies/builtin/badge';
import { clusterMargin } from '../../../src/strategies/builtin/cluster-margin';
import { kCenter } from '../../../src/strategies/builtin/k-center';
import { leadTeam } from '../../../src/strategies/kernels/passes';
import { SelectionTeam } from '../../../src/strategies/kernels/team';
import { createSharedMemory, instantiateKernel } from '../../../src/strategies/kernels/simd-kernel';
import { dot, mulberry32, squaredDistance } from '../../../src/strategies/math';
import type { BatchStrategy, Pick, ScoredRows } from '../../../src/strategies/types';
import { InferencePool } from '../../../src/workers/inference.pool';
import { randomPool, select, withDefaults } from './helpers';
import { badge as badgeReference } from '../../../bench/reference/badge.reference';
import { clusterMargin as clusterMarginReference } from '../../../bench/reference/cluster-margin.reference';
import { kCenter as kCenterReference } from '../../../bench/reference/k-center.reference';

const BUILTINS = path.resolve(__dirname, '../../../src/strategies/builtin/index.js');
const PASSES = path.resolve(__dirname, '../../../src/strategies/kernels/passes.js');

/** A copy, so a pool whose buffers are transferred to a worker can be used again. */
function copy(pool: ScoredRows): ScoredRows {
  return {
    ...pool,
    probabilities: pool.probabilities.map((p) => p.slice()),
    embeddings: pool.embeddings?.slice(),
  };
}

/** Rows around a few centres, with exact duplicates and ties in distance. */
function clusteredPool(seed: number, rows: number, dim: number): ScoredRows {
  const pool = randomPool(seed, rows, 4, dim);
  const random = mulberry32(seed + 1);
  const centres = Array.from({ length: 6 }, () => Array.from({ length: dim }, () => random() * 20));
  const e = pool.embeddings!;
  for (let r = 0; r < rows; r++) {
    const c = centres[r % centres.length];
    for (let j = 0; j < dim; j++) e[r * dim + j] = c[j] + (random() - 0.5);
  }
  // Duplicates of earlier rows: equal distances everywhere, ties to the lower row.
  for (let r = 10; r < rows; r += 17) e.copyWithin(r * dim, (r - 10) * dim, (r - 9) * dim);
  return pool;
}

const exact = (picks: Pick[]) => picks.map((p) => [p.index, p.score, p.reason]);

describe('the WebAssembly kernels', () => {
  it.each([1, 3, 4, 7, 13, 64, 258])(
    'give bit-identical squaredDistance and dot to math.ts (dim %i)',
    (dim) => {
      const rows = 37;
      const memory = createSharedMemory(4);
      const kernel = instantiateKernel(memory);
      const emb = new Float32Array(memory.buffer, 0, rows * dim);
      const random = mulberry32(dim);
      for (let i = 0; i < emb.length; i++) emb[i] = (random() - 0.5) * 1e3 * random();
      const align = (at: number) => Math.ceil(at / 16) * 16;
      const idxAt = align(rows * dim * 4);
      const idx = new Int32Array(memory.buffer, idxAt, rows);
      idx.set(Array.from({ length: rows }, (_, i) => (i * 7) % rows));
      const centreAt = align(idxAt + rows * 4);
      const centre = new Float64Array(memory.buffer, centreAt, dim);
      centre.set(emb.subarray(5 * dim, 6 * dim));
      const outAt = centreAt + dim * 8;
      const out = new Float64Array(memory.buffer, outAt, rows);
      kernel.sqdist(0, idxAt, rows, centreAt, dim, outAt);
      expect(Array.from(out)).toEqual(Array.from(idx, (r) => squaredDistance(emb, r, emb, 5, dim)));
      kernel.dot(0, idxAt, rows, centreAt, dim, outAt);
      expect(Array.from(out)).toEqual(Array.from(idx, (r) => dot(emb, r, emb, 5, dim)));
    },
  );

  it('give the exact integer dot product of int8 rows with an int16 centre', () => {
    const rows = 21;
    const width = 48;
    const memory = createSharedMemory(1);
    const kernel = instantiateKernel(memory);
    const q = new Int8Array(memory.buffer, 0, rows * width);
    const random = mulberry32(5);
    for (let i = 0; i < q.length; i++) q[i] = Math.round(random() * 254) - 127;
    q.fill(-127, 0, width);
    const idx = new Int32Array(memory.buffer, 2048, rows);
    idx.set(Array.from({ length: rows }, (_, i) => rows - 1 - i));
    const centre = new Int16Array(memory.buffer, 4096, width).fill(-127);
    const out = new Float64Array(memory.buffer, 8192, rows);
    kernel.qdot(0, 2048, rows, 4096, width, 8192);
    const expected = Array.from(idx, (r) => {
      let s = 0;
      for (let c = 0; c < width; c++) s += q[r * width + c] * centre[c];
      return s;
    });
    expect(Array.from(out)).toEqual(expected);
    expect(out[rows - 1]).toBe(127 * 127 * width);
  });
});

describe.each<[string, BatchStrategy<any>, BatchStrategy<any>]>([
  ['k-center', kCenter, kCenterReference],
  ['badge', badge, badgeReference],
  ['cluster-margin', clusterMargin, clusterMarginReference],
])('%s on a team of one thread', (_name, strategy, reference) => {
  it.each([
    ['random, dim 13', randomPool(3, 900, 5, 13), 40],
    ['clustered with duplicates, dim 32', clusteredPool(4, 5000, 32), 120],
    ['clustered, more picks than blocks hold, dim 6', clusteredPool(5, 2100, 6), 300],
  ])('picks what the single-thread implementation picks (%s)', (_pool, pool, size) => {
    const params = strategy === kCenter ? {} : { candidatePool: 0 };
    const options = { params: strategy === clusterMargin ? { candidatePool: 1500 } : params };
    expect(exact(select(strategy, pool, size, options))).toEqual(
      exact(select(reference, pool, size, options)),
    );
  });
});

describe.each<[string, BatchStrategy<any>, BatchStrategy<any>]>([
  ['k-center', kCenter, kCenterReference],
  ['badge', badge, badgeReference],
])(
  '%s at extreme scales (the int8 filter must never decide wrongly)',
  (_name, strategy, reference) => {
    it.each([1e-30, 1e-20, 1e20, 1e30])(
      'picks what the single-thread implementation picks (x %d)',
      (factor) => {
        const pool = clusteredPool(12, 1500, 20);
        const e = pool.embeddings!;
        for (let i = 0; i < e.length; i++) {
          e[i] = Math.fround(e[i] * factor * (i % 3 === 0 ? 1e-3 : 1));
        }
        e.fill(0, 0, 20);
        const params = { params: { candidatePool: 0 } };
        expect(exact(select(strategy, pool, 200, params))).toEqual(
          exact(select(reference, pool, 200, params)),
        );
      },
    );
  },
);

describe('k-center with labelled items on a team', () => {
  it('picks what the single-thread implementation picks', () => {
    const pool = clusteredPool(6, 3000, 24);
    const labelled = { rows: 40, embeddings: clusteredPool(7, 40, 24).embeddings! };
    expect(exact(select(kCenter, pool, 90, { labelled }))).toEqual(
      exact(select(kCenterReference, pool, 90, { labelled })),
    );
  });
});

describe('helper threads joining a team', () => {
  it('compute blocks of the passes, and the picks stay those of one thread', async () => {
    const pool = clusteredPool(8, 20_000, 32);
    const expected = exact(select(kCenterReference, pool, 100));
    const memory = createSharedMemory();
    const helpers = [0, 1].map(
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(
            `const { workerData, parentPort } = require('node:worker_threads');
             parentPort.postMessage(require(workerData.passes).helpSelection(workerData.memory));`,
            { eval: true, workerData: { passes: PASSES, memory } },
          );
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    );
    // Let the helpers start, so that they take part (a late one would only join later passes).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const team = leadTeam(memory);
    let picks: Pick[];
    try {
      picks = kCenter.select({
        size: 100,
        pool,
        params: withDefaults(kCenter),
        random: mulberry32(1),
        team,
      });
    } finally {
      team.finish();
    }
    const blocks = await Promise.all(helpers);
    expect(exact(picks)).toEqual(expected);
    expect(blocks.every((b) => b > 0)).toBe(true);
  });

  it('make the leader throw, not wait, when a block fails', () => {
    const memory = createSharedMemory();
    const failing = [
      (_team: unknown, _args: Float64Array, block: number) => {
        if (block === 3) throw new Error('boom');
      },
    ];
    const team = new SelectionTeam(memory, failing);
    expect(() => team.run(0, 8, [])).toThrow('1 block(s) of selection pass 0 failed: boom');
    expect(() => team.run(0, 2, [])).not.toThrow();
  });

  it('return at once when the team has already finished', async () => {
    const memory = createSharedMemory();
    leadTeam(memory).finish();
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       parentPort.postMessage(require(workerData.passes).helpSelection(workerData.memory));`,
      { eval: true, workerData: { passes: PASSES, memory } },
    );
    await expect(new Promise((resolve) => worker.once('message', resolve))).resolves.toBe(0);
  });
});

describe.each([1, 2, 3])('InferencePool.select with %i threads', (threads) => {
  let inference: InferencePool;
  beforeAll(() => {
    inference = new InferencePool({ threads });
  });
  afterAll(() => inference.destroy());

  it.each<[string, BatchStrategy<any>, Record<string, unknown>]>([
    ['k-center', kCenterReference, {}],
    ['badge', badgeReference, { candidatePool: 0 }],
    ['cluster-margin', clusterMarginReference, { candidatePool: 800 }],
  ])('gives the single-thread picks of %s', async (code, reference, given) => {
    const pool = clusteredPool(9, 6000, 40);
    const params = withDefaults(reference, given);
    const size = code === 'cluster-margin' ? 60 : 200;
    const expected = select(reference, pool, size, { params, random: mulberry32(77) });
    const picks = await inference.select({
      strategy: { modulePath: BUILTINS, code, params },
      size,
      seed: 77,
      pool: copy(pool),
    });
    expect(exact(picks)).toEqual(exact(expected));
  });

  it('runs two selections at once without either waiting for the other', async () => {
    const params = withDefaults(kCenterReference);
    const a = clusteredPool(10, 8000, 16);
    const b = clusteredPool(11, 8000, 16);
    const both = await Promise.all(
      [a, b].map((pool) =>
        inference.select({
          strategy: { modulePath: BUILTINS, code: 'k-center', params },
          size: 100,
          seed: 1,
          pool: copy(pool),
        }),
      ),
    );
    expect(both.map(exact)).toEqual(
      [a, b].map((pool) => exact(select(kCenterReference, pool, 100))),
    );
  });
});
