/*
 * What the built-in strategies share: checked access to the inference outputs a strategy
 * declared in `needs` (a missing or mis-sized array is a bug in the caller, so these throw plain
 * errors that name the strategy, what was expected and what was found), and the schema of a
 * strategy without parameters.
 */
import type { Pick, ScoredRows } from '../types';

/** The first model's row-major `rows x classCount` probabilities. */
export function probabilitiesOf(pool: ScoredRows, code: string): Float32Array {
  const p = pool.probabilities[0];
  if (!p) {
    throw new Error(`Strategy "${code}" needs PROBABILITIES, but pool.probabilities is empty.`);
  }
  checkLength(p, pool.rows * pool.classCount, `${code}: pool.probabilities[0]`);
  return p;
}

/** Every committee member's probabilities (two or more models). */
export function committeeOf(pool: ScoredRows, code: string): Float32Array[] {
  if (pool.probabilities.length < 2) {
    throw new Error(
      `Strategy "${code}" needs a COMMITTEE of two or more models, but got ${pool.probabilities.length}; name at least two models in the round.`,
    );
  }
  pool.probabilities.forEach((p, m) =>
    checkLength(p, pool.rows * pool.classCount, `${code}: pool.probabilities[${m}]`),
  );
  return pool.probabilities;
}

/** The row-major `rows x embeddingDim` embeddings and their width. */
export function embeddingsOf(
  pool: ScoredRows,
  code: string,
): { embeddings: Float32Array; dim: number } {
  const { embeddings, embeddingDim } = pool;
  if (!embeddings || embeddingDim === undefined) {
    throw new Error(
      `Strategy "${code}" needs EMBEDDINGS, but pool.embeddings or pool.embeddingDim is missing.`,
    );
  }
  checkLength(embeddings, pool.rows * embeddingDim, `${code}: pool.embeddings`);
  return { embeddings, dim: embeddingDim };
}

function checkLength(values: Float32Array, expected: number, what: string): void {
  if (values.length !== expected) {
    throw new Error(`${what} has ${values.length} values; expected ${expected} (rows x width).`);
  }
}

/** The parameters of a strategy that has none. */
export type NoParams = Record<string, never>;

/** The `paramsSchema` of a strategy that has no parameters. */
export const NO_PARAMS_SCHEMA: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  properties: {},
};

/**
 * The `candidatePool` parameter of a batch strategy that first narrows the pool to the rows a
 * pointwise strategy scores highest: an integer from 0 (the whole pool) to 10,000,000.
 */
export function candidatePoolSchema(defaultSize: number, description: string) {
  return { type: 'integer', minimum: 0, maximum: 10_000_000, default: defaultSize, description };
}

/** `candidatePool()` of such a strategy: the `size` best rows by `strategy`; 0: the whole pool. */
export function narrowTo(
  strategy: string,
  size: number,
): { strategy: string; size: number } | null {
  return size > 0 ? { strategy, size } : null;
}

/**
 * The `paramsSchema` and `candidatePool()` of a batch strategy whose one parameter is
 * `candidatePool`, narrowing the pool to the rows with the smallest margins. Spread into the
 * strategy: `...marginCandidates(5000, 'How many ...')`.
 */
export function marginCandidates(defaultSize: number, description: string) {
  return {
    paramsSchema: {
      type: 'object',
      additionalProperties: false,
      properties: { candidatePool: candidatePoolSchema(defaultSize, description) },
    },
    candidatePool: (params: { candidatePool: number }) => narrowTo('margin', params.candidatePool),
  };
}

/** How many rows a batch selects: `size`, at most the pool's rows, never below 0. */
export function batchCount(size: number, pool: ScoredRows): number {
  return Math.max(0, Math.min(size, pool.rows));
}

/**
 * Round-robin over `groups` in `order`: each group in turn gives its next row (groups are
 * sorted best first), a group that runs out is skipped, until `count` picks are made. `count`
 * must not exceed the rows of all groups together.
 */
export function roundRobin(
  groups: readonly (readonly number[])[],
  order: readonly number[],
  count: number,
  pick: (index: number, group: number) => Pick,
): Pick[] {
  const next = new Int32Array(groups.length);
  const picks: Pick[] = [];
  while (picks.length < count) {
    for (const g of order) {
      if (picks.length === count) break;
      const members = groups[g];
      if (next[g] === members.length) continue;
      picks.push(pick(members[next[g]++], g));
    }
  }
  return picks;
}
