/**
 * The membership-query synthesis plugin interface: a method makes new feature vectors from the
 * labelled ones (interpolation, mixing, noise), for a human to label like any other query.
 * Built-in methods and third-party ones implement the same contract; a plugin module exports
 * `methods: SynthesisMethod[]` (see `registry.ts`).
 *
 * Methods are pure and deterministic for a seed: all randomness comes from `random`.
 */
import type { Plugin } from '../registry';
import type { Random } from '../../strategies/math';

/** The labelled items a method synthesises from. */
export interface LabelledVectors {
  rows: number;
  /** Length of each feature vector. */
  dim: number;
  /** Row-major `rows x dim` feature vectors, all finite. */
  features: Float32Array;
  /** Class index (a non-negative integer) of each row. */
  classes: ArrayLike<number>;
  /** Item id of each row: what `parents` name. */
  itemIds: readonly string[];
}

/** One synthesised vector. */
export interface SyntheticVector {
  /** The new feature vector, `dim` finite values. */
  features: Float32Array;
  /** Ids of the labelled items it was made from, in the method's order (base item first). */
  parents: string[];
  /** The class the method meant it to have (a hint for the audit), or null when it has none. */
  intendedClass: number | null;
  /** How it was made, in numbers: e.g. `{ gap: 0.31, k: 5 }` or `{ lambda: 0.72 }`. */
  record: Record<string, number>;
}

/** What a method gets. */
export interface SynthesisContext<P> {
  labelled: LabelledVectors;
  /** How many vectors to make: the method returns exactly this many. */
  count: number;
  /** Parameters, validated against `paramsSchema`, with its defaults applied. */
  params: P;
  /** A seeded generator of numbers in [0, 1): the same seed gives the same vectors. */
  random: Random;
}

/** A membership-query synthesis method. */
export interface SynthesisMethod<P = Record<string, unknown>> extends Plugin {
  /**
   * Why the labelled set cannot serve these parameters (e.g. "smote needs a class with at
   * least 2 labelled items"), or nothing. Reported as BAD_USER_INPUT before any work.
   */
  checkInput?(labelled: LabelledVectors, params: P): string | undefined;
  /** Makes `ctx.count` vectors. */
  synthesize(ctx: SynthesisContext<P>): SyntheticVector[];
}

/** What a synthesis plugin module exports. */
export interface SynthesisMethodModule {
  methods: SynthesisMethod<any>[];
}
