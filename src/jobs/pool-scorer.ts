import type { QuarryConfig } from '../config';
import type { Database } from '../db/database';
import { streamFeatures, type FeatureChunk } from '../db/pool-reader';
import type { InferencePool } from '../workers/inference.pool';
import type { ModelRef, ScoreResult, ScoreTask } from '../workers/inference.types';
import { readAhead } from './read-ahead';
import { withoutRows } from '../workers/finite-rows';

/** What scoring a stream of items needs. */
export interface ScoringDeps {
  db: Database;
  config: Pick<QuarryConfig, 'inferenceThreads' | 'roundChunkRows'>;
  inference: InferencePool;
}

/** What to score and where the results go; see {@link scoreItems}. */
export interface ScoreItemsOptions {
  /** The chunk select a feature stream wraps in COPY: see `src/db/sql/pool.sql.ts`. */
  selectSql?: (afterId: string, limit: number) => string;
  /** Or the chunks themselves (a round's pool from the feature cache); wins over `selectSql`. */
  chunks?: AsyncGenerator<FeatureChunk>;
  featureDim: number;
  /** The models, in order; none gives every chunk an empty result (a random round). */
  models: ModelRef[];
  /** Whether the first model's embeddings come back. Default false. */
  embeddings?: boolean;
  /** A pointwise strategy scored in the workers, keeping its best rows per chunk. */
  pointwise?: ScoreTask['pointwise'];
  /** Called before each chunk goes to the workers; throwing stops the scoring (a cancel). */
  beforeChunk?: () => Promise<void>;
  /**
   * Each chunk's results, as chunks finish (not in item order). Items whose outputs were not
   * finite are not among `ids` (see `ScoreResult.skipped`).
   */
  onResult: (ids: BigInt64Array, res: ScoreResult) => void;
  /** Then, still as part of the chunk's work: progress, and how many items were left out. */
  afterChunk?: (rows: number, skipped: number) => Promise<void>;
}

/**
 * The scoring loop of rounds and auto-labelling: streams items out of the database in chunks
 * (the next one read while this one scores) through the inference workers, one chunk more in
 * flight than there are workers so that none waits. The first failure stops it, after the
 * chunks in flight settle (no work is left running behind a stopped round). Returns the rows read.
 */
export async function scoreItems(deps: ScoringDeps, opts: ScoreItemsOptions): Promise<number> {
  const maxInFlight = Math.max(1, deps.config.inferenceThreads) + 1;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let scored = 0;
  const selectSql = opts.selectSql;
  if (!opts.chunks && !selectSql) throw new TypeError('scoreItems needs chunks or selectSql');
  const chunks = readAhead(
    opts.chunks ??
      streamFeatures(deps.db, {
        selectSql: selectSql!,
        featureDim: opts.featureDim,
        chunkRows: deps.config.roundChunkRows,
      }),
  );
  try {
    for await (const chunk of chunks) {
      if (failure) break;
      // On the embedded database every statement runs on this thread: without a turn of the
      // event loop between chunks, requests that arrived meanwhile (a `{ viewer { id } }`) are
      // read only after the whole run, since the next chunk's read is always already waiting.
      if (deps.db.kind === 'pglite') await new Promise<void>((r) => setImmediate(r));
      await opts.beforeChunk?.();
      scored += chunk.rows;
      const { ids, rows } = chunk;
      const work = (async () => {
        const res: ScoreResult =
          opts.models.length === 0
            ? {
                rows,
                classCount: 0,
                predictedClass: new Int16Array(0),
                confidence: new Float32Array(0),
              }
            : await deps.inference.score({
                models: opts.models,
                features: chunk.features,
                rows,
                dim: chunk.dim,
                embeddings: opts.embeddings ?? false,
                pointwise: opts.pointwise,
              });
        const skipped = res.skipped?.length ?? 0;
        opts.onResult(skipped > 0 ? withoutRows(ids, 1, res.skipped!) : ids, res);
        await opts.afterChunk?.(rows, skipped);
      })().catch((e) => {
        failure ??= e;
      });
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
      if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    }
  } finally {
    await Promise.allSettled(inFlight);
  }
  if (failure) throw failure;
  return scored;
}
