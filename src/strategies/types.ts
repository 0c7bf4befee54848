/**
 * The strategy plugin interface. Built-in strategies and third-party ones implement the same
 * contract; a plugin module exports `strategies: Strategy[]` (see `registry.ts`).
 *
 * Conventions every strategy follows:
 * - A higher score means an item is more worth a human's label.
 * - Ties are broken by the lower row index first (rows are in item-id order), so a selection
 *   is deterministic for the same pool, models, parameters and seed.
 * - Strategy code runs inside inference worker threads: it must be self-contained (no server
 *   state, no I/O), and everything it returns must be structured-cloneable.
 */

import type { SelectionTeam } from './kernels/team';
import type { Plugin } from '../plugins/registry';

/** What a strategy needs from inference. */
export type StrategyNeed =
  /** class probabilities of one model (logits are turned into probabilities first) */
  | 'PROBABILITIES'
  /** the model's embedding output */
  | 'EMBEDDINGS'
  /** probabilities of two or more models (query by committee) */
  | 'COMMITTEE';

/** Inference outputs for a set of rows: the pool, a chunk of it, or a candidate subset. */
export interface ScoredRows {
  /** Number of rows. */
  rows: number;
  /** Number of classes. */
  classCount: number;
  /**
   * One entry per model, in the order the round names them: row-major `rows x classCount`
   * probabilities (each row sums to 1). Empty when the strategy needs no model.
   */
  probabilities: Float32Array[];
  /** Row-major `rows x embeddingDim` embedding of the first model, when needed. */
  embeddings?: Float32Array;
  embeddingDim?: number;
}

/** One selected row, in rank order. */
export interface Pick {
  /** Row index into the `ScoredRows` given to `select`. */
  index: number;
  /** The strategy's score for the row (for batch strategies: the value that made it win). */
  score: number;
  /** The reason in numbers, e.g. `{ margin: 0.02, predictedClass: 3 }`. */
  reason: Record<string, number>;
}

export interface SelectionContext<P> {
  /** How many rows to select (at most `pool.rows`). */
  size: number;
  /** Parameters, validated against `paramsSchema`, with its defaults applied. */
  params: P;
  pool: ScoredRows;
  /**
   * Embeddings of the dataset's labelled items (k-center's initial centres), row-major
   * `rows x pool.embeddingDim`; present when the strategy needs EMBEDDINGS.
   */
  labelled?: { rows: number; embeddings: Float32Array };
  /** A seeded generator of numbers in [0, 1): the same seed gives the same sequence. */
  random: () => number;
  /**
   * The inference threads as a team over one shared WebAssembly memory, for strategies that
   * declare `usesTeam` (the built-in k-center, BADGE and cluster-margin run their distance
   * passes on it; see `kernels/team.ts`). Absent outside the inference pool: such a strategy
   * then makes a team of its own thread.
   */
  team?: SelectionTeam;
}

/**
 * What every strategy has: the common plugin contract (`code`, `description`, `paramsSchema`,
 * optional `checkParams`, `init`/`destroy`; see `Plugin`) and what it needs from inference.
 */
interface StrategyBase extends Plugin {
  readonly needs: readonly StrategyNeed[];
}

/**
 * Scores each row on its own. Runs inside the inference workers on each chunk of the pool, so
 * only scores travel back; the server keeps the top N.
 */
export interface PointwiseStrategy<P = Record<string, unknown>> extends StrategyBase {
  readonly kind: 'pointwise';
  /** Writes one score per row into `out` (length `pool.rows`). */
  score(pool: ScoredRows, params: P, out: Float64Array): void;
  /** The numbers behind one row's score. */
  reason(pool: ScoredRows, row: number, params: P): Record<string, number>;
}

/** Selects a batch jointly (diversity, balance): sees all candidate rows at once. */
export interface BatchStrategy<P = Record<string, unknown>> extends StrategyBase {
  readonly kind: 'batch';
  /**
   * Bounds the work on large pools: the code of a pointwise strategy and how many of the
   * highest-scored rows by it become the candidates `select` sees. Null: the whole pool.
   */
  candidatePool(params: P): { strategy: string; size: number } | null;
  /**
   * True when `select` runs its work on `ctx.team`: the inference pool then lends it its other
   * threads for the selection. Absent: the other threads stay free for other work.
   */
  readonly usesTeam?: boolean;
  /** Returns `min(size, pool.rows)` distinct picks in rank order. */
  select(ctx: SelectionContext<P>): Pick[];
}

export type Strategy = PointwiseStrategy<any> | BatchStrategy<any>;

/** What a plugin module exports. */
export interface StrategyModule {
  strategies: Strategy[];
}
