/**
 * The pairwise Euclidean distances of a set of rows (cluster-margin's average-linkage
 * clustering), as the condensed upper triangle, a few rows of it per block. Same arithmetic as
 * `Math.sqrt(squaredDistance(...))`, through the `sqdist` kernel.
 */
import type { Pass } from './team';

/** Rows of the triangle per block (the first blocks have the longest rows). */
export const PAIRWISE_BLOCK_ROWS = 16;

/**
 * Args: emb (float32 rows x dim), dim, members (int32 x n), n, distance (float64 x n(n-1)/2),
 * centres (float64 scratch, dim per block).
 */
const pairwise: Pass = (team, args, block) => {
  const [emb, dim, members, n, distance, centres] = args;
  const centre = centres + block * dim * 8;
  const widened = team.f64(centre, dim);
  const rows = team.i32(members, n);
  const start = block * PAIRWISE_BLOCK_ROWS;
  const end = Math.min(n - 1, start + PAIRWISE_BLOCK_ROWS);
  for (let i = start; i < end; i++) {
    widened.set(team.f32(emb + rows[i] * dim * 4, dim));
    // Pair (i, j), j > i, is at i*n - i(i+1)/2 + (j - i - 1).
    const at = i * n - (i * (i + 1)) / 2;
    const count = n - i - 1;
    team.kernel.sqdist(emb, members + (i + 1) * 4, count, centre, dim, distance + at * 8);
    const segment = team.f64(distance + at * 8, count);
    for (let j = 0; j < count; j++) segment[j] = Math.sqrt(segment[j]);
  }
};

export const PAIRWISE_PASSES = { pairwise };
