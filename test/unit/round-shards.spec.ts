/**
 * The pure parts of sharded rounds: how many shards a pool gets, a shard's slice of a feature
 * stream, a proposal's storage, and the guarantee of the two-stage merge of k-center
 * (Malkomes et al. 2015): within 4x of the optimal radius, hence within 4x of one process's
 * greedy radius (which is at least the optimum), and never worse than a shard's radius plus the
 * merge's radius over the union (triangle inequality).
 */
import { kCenter } from '../../src/strategies/builtin/k-center';
import { mulberry32 } from '../../src/strategies/math';
import type { ScoredRows } from '../../src/strategies/types';
import {
  decodeProposals,
  encodeProposal,
  shardCount,
  withinRange,
} from '../../src/jobs/round-shards';
import type { FeatureChunk } from '../../src/db/pool-reader';
import type { Candidate } from '../../src/jobs/round-candidates';
import { pool, select } from './strategies/helpers';

/** `rows` points around `clusters` random centres in `dim` dimensions. */
function clustered(seed: number, rows: number, clusters: number, dim: number): number[][] {
  const random = mulberry32(seed);
  const centres = Array.from({ length: clusters }, () =>
    Array.from({ length: dim }, () => random() * 20 - 10),
  );
  return Array.from({ length: rows }, () => {
    const c = centres[Math.floor(random() * clusters)];
    return c.map((x) => x + (random() * 2 - 1) * (0.5 + random()));
  });
}

const distance = (a: number[], b: number[]) =>
  Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));

/** The k-center radius: the largest distance of a point to its nearest centre. */
function radius(points: number[][], centres: number[][]): number {
  return Math.max(...points.map((p) => Math.min(...centres.map((c) => distance(p, c)))));
}

/** Greedy k-center (the built-in strategy) over `points`: the picked points. */
function greedy(points: number[][], size: number, labelled: number[][]): number[][] {
  const rows: ScoredRows = pool({ embeddings: points });
  const dim = points[0].length;
  const picks = select(kCenter, rows, size, {
    labelled:
      labelled.length > 0
        ? { rows: labelled.length, embeddings: Float32Array.from(labelled.flat()) }
        : undefined,
  });
  expect(picks).toHaveLength(Math.min(size, points.length));
  return picks.map((p) => points[p.index].slice(0, dim));
}

describe('two-stage k-center (each shard proposes N, greedy again over the union)', () => {
  const cases: [number, number, number][] = [
    // seed, shards, size
    [1, 2, 10],
    [2, 4, 16],
    [3, 8, 12],
    [4, 3, 40],
  ];
  for (const [seed, shards, size] of cases) {
    for (const labelledCount of [0, 5]) {
      it(`stays within 4x of one process's greedy radius (seed ${seed}, ${shards} shards, N=${size}, ${labelledCount} labelled)`, () => {
        // Float32 storage of the embeddings: compare in the same precision the strategy sees.
        const all = clustered(seed, 900, 14, 6).map((p) => Array.from(Float32Array.from(p)));
        const labelled = all.slice(0, labelledCount);
        const points = all.slice(labelledCount);
        const single = greedy(points, size, labelled);
        const rSingle = radius(points, [...labelled, ...single]);

        const slice = Math.ceil(points.length / shards);
        const slices = Array.from({ length: shards }, (_, k) =>
          points.slice(k * slice, (k + 1) * slice),
        );
        const proposals = slices.map((s) => greedy(s, size, labelled));
        const union = proposals.flat();
        const merged = greedy(union, size, labelled);
        expect(merged).toHaveLength(size);
        const rMerged = radius(points, [...labelled, ...merged]);

        expect(rMerged).toBeLessThanOrEqual(4 * rSingle + 1e-9);
        const rShards = Math.max(
          ...slices.map((s, k) => radius(s, [...labelled, ...proposals[k]])),
        );
        const rUnion = radius(union, [...labelled, ...merged]);
        expect(rMerged).toBeLessThanOrEqual(rShards + rUnion + 1e-9);
      });
    }
  }
});

describe('shardCount', () => {
  it('gives each shard at least the minimum rows, and one process below twice that', () => {
    expect(shardCount(1797, 3, 100)).toBe(3);
    expect(shardCount(1797, 256, 100)).toBe(17);
    expect(shardCount(250, 8, 100)).toBe(2);
    expect(shardCount(199, 8, 100)).toBe(1);
    expect(shardCount(0, 8, 100)).toBe(1);
    expect(shardCount(1_000_000, 1, 100)).toBe(1);
  });
});

describe('withinRange', () => {
  const chunk = (ids: number[]): FeatureChunk => ({
    ids: BigInt64Array.from(ids.map(BigInt)),
    features: Float32Array.from(ids.flatMap((i) => [i, -i])),
    rows: ids.length,
    dim: 2,
  });
  async function* chunks(): AsyncGenerator<FeatureChunk> {
    yield chunk([1, 2, 3]);
    yield chunk([4, 5, 6, 7]);
    yield chunk([8, 9]);
  }
  const collect = async (g: AsyncGenerator<FeatureChunk>) => {
    const out: FeatureChunk[] = [];
    for await (const c of g) out.push(c);
    return out;
  };

  it('keeps only the rows after afterId up to lastId, with their features', async () => {
    const got = await collect(withinRange(chunks(), { afterId: '2', lastId: '5' }));
    expect(got.map((c) => Array.from(c.ids, Number))).toEqual([[3], [4, 5]]);
    expect(Array.from(got[1].features)).toEqual([4, -4, 5, -5]);
    expect(got.map((c) => c.rows)).toEqual([1, 2]);
  });

  it('has no upper bound when lastId is null', async () => {
    const got = await collect(withinRange(chunks(), { afterId: '6', lastId: null }));
    expect(got.map((c) => Array.from(c.ids, Number))).toEqual([[7], [8, 9]]);
  });
});

describe('a shard proposal as stored', () => {
  it('comes back with its ids, scores (infinite ones too), reasons and outputs', () => {
    const candidates: Candidate[] = [
      {
        itemId: 9007199254740993n,
        score: Infinity,
        reason: { distance: 1.5 },
        probabilities: [Float32Array.of(0.25, 0.75), Float32Array.of(0.5, 0.5)],
        embedding: Float32Array.of(1, 2, 3),
      },
      {
        itemId: 7n,
        score: -2,
        reason: {},
        probabilities: [Float32Array.of(1, 0), Float32Array.of(0, 1)],
        embedding: Float32Array.of(4, 5, 6),
      },
    ];
    const { proposal, outputs } = encodeProposal(candidates);
    // Through JSON, as the jsonb column stores it.
    const [back] = [decodeProposals([{ proposal: JSON.parse(JSON.stringify(proposal)), outputs }])];
    expect(back).toEqual(candidates);
  });

  it('of a pointwise strategy has no outputs', () => {
    const { proposal, outputs } = encodeProposal([{ itemId: 3n, score: 0.5, reason: { m: 1 } }]);
    expect(outputs).toBeNull();
    expect(decodeProposals([{ proposal, outputs }])).toEqual([
      { itemId: 3n, score: 0.5, reason: { m: 1 }, probabilities: [], embedding: undefined },
    ]);
  });
});
