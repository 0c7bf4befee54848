import Ajv from 'ajv';
import { mulberry32, topK } from '../../../src/strategies/math';
import type {
  BatchStrategy,
  Pick,
  PointwiseStrategy,
  ScoredRows,
  SelectionContext,
  Strategy,
} from '../../../src/strategies/types';

/** Test fixtures and runners for the strategy specs (not a spec itself). */

/** The same validator options as the registry, so parameters get their defaults the same way. */
const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: true });

/** `given` with the strategy's defaults applied; throws when it does not validate. */
export function withDefaults(strategy: Strategy, given: Record<string, unknown> = {}): any {
  const params = structuredClone(given);
  const validate = ajv.compile(strategy.paramsSchema);
  if (!validate(params)) throw new Error(ajv.errorsText(validate.errors));
  return params;
}

export interface PoolSpec {
  /** One row of class probabilities per item (the first model). */
  probabilities?: number[][];
  /** Further models, for committees: committee[m][row] is a row of probabilities. */
  committee?: number[][][];
  /** One embedding per item. */
  embeddings?: number[][];
}

/** A `ScoredRows` from plain arrays. */
export function pool(spec: PoolSpec): ScoredRows {
  const models = spec.committee ?? (spec.probabilities ? [spec.probabilities] : []);
  const rows = models[0]?.length ?? spec.embeddings?.length ?? 0;
  const classCount = models[0]?.[0]?.length ?? 0;
  const result: ScoredRows = {
    rows,
    classCount,
    probabilities: models.map((m) => Float32Array.from(m.flat())),
  };
  if (spec.embeddings) {
    result.embeddings = Float32Array.from(spec.embeddings.flat());
    result.embeddingDim = spec.embeddings[0]?.length ?? 0;
  }
  return result;
}

/** A pointwise strategy's scores for every row. */
export function scores(
  strategy: PointwiseStrategy<any>,
  rows: ScoredRows,
  params: Record<string, unknown> = {},
): Float64Array {
  const out = new Float64Array(rows.rows);
  strategy.score(rows, withDefaults(strategy, params), out);
  return out;
}

/** The rows a pointwise strategy ranks first, as the server keeps them (top N, ties to the lower index). */
export function ranking(
  strategy: PointwiseStrategy<any>,
  rows: ScoredRows,
  size = rows.rows,
): number[] {
  return topK(scores(strategy, rows), size);
}

/** Runs a batch strategy with defaulted parameters. */
export function select(
  strategy: BatchStrategy<any>,
  rows: ScoredRows,
  size: number,
  options: Partial<Omit<SelectionContext<unknown>, 'pool' | 'size' | 'params'>> & {
    params?: Record<string, unknown>;
  } = {},
): Pick[] {
  return strategy.select({
    size,
    pool: rows,
    params: withDefaults(strategy, options.params),
    labelled: options.labelled,
    random: options.random ?? mulberry32(1),
  });
}

export const indices = (picks: Pick[]): number[] => picks.map((p) => p.index);

/** Random probabilities (rows sum to 1), embeddings and committee, from a seed. */
export function randomPool(
  seed: number,
  rows: number,
  classCount: number,
  dim: number,
  models = 1,
): ScoredRows {
  const random = mulberry32(seed);
  const distribution = () => {
    const v = Array.from({ length: classCount }, () => random() + 1e-3);
    const sum = v.reduce((a, b) => a + b, 0);
    return v.map((x) => x / sum);
  };
  const committee = Array.from({ length: models }, () =>
    Array.from({ length: rows }, distribution),
  );
  const embeddings = Array.from({ length: rows }, () =>
    Array.from({ length: dim }, () => random() * 2 - 1),
  );
  const result = pool({ committee, embeddings });
  result.rows = rows;
  result.classCount = classCount;
  result.embeddingDim = dim;
  return result;
}
