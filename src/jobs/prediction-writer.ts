import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database } from '../db/database';
import { refreshStatistics } from '../db/statistics';
import {
  COPY_PREDICTION_STAGE,
  createPredictionStage,
  mergePredictionStage,
} from '../db/sql/models.sql';

/**
 * Stores a chunk's predictions (one model, many items). Rows travel by text COPY into a
 * session-local staging table and are then merged in one INSERT: several times faster than an
 * INSERT of unnest()ed array parameters, whose text encoding dominated (measured: 100k rows,
 * 1.6 s that way). The statements are in `src/db/sql/models.sql.ts`.
 */
export async function writePredictions(
  db: Database,
  modelId: string,
  ids: BigInt64Array,
  predictedClass: Int16Array,
  confidence: Float32Array,
): Promise<void> {
  if (ids.length === 0) return;
  const lines: string[] = new Array(ids.length);
  for (let i = 0; i < ids.length; i++)
    lines[i] = `${ids[i]}\t${predictedClass[i]}\t${confidence[i]}\n`;
  const text = lines.join('');
  const pool = (db.ds.driver as unknown as { master: Pool }).master;
  // One client for the whole exchange: the staging table is local to its session, and on PGlite
  // holding the pool's only client keeps other statements from interleaving.
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    await client.query('BEGIN');
    const stage = createPredictionStage();
    await client.query(stage.text, stage.values);
    if (db.pglite) {
      await db.pglite.query(COPY_PREDICTION_STAGE.pglite, [], {
        blob: new Blob([text]),
      });
    } else {
      await pipeline(Readable.from([text]), client.query(copyFrom(COPY_PREDICTION_STAGE.postgres)));
    }
    const merge = mergePredictionStage(modelId);
    await client.query(merge.text, merge.values);
    await refreshStatistics(
      { query: async (text, values) => (await client.query(text, values)).rows },
      'prediction',
      ids.length,
    );
    await client.query('COMMIT');
  } catch (e) {
    failure = e as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    // On PostgreSQL a failed connection is dropped; PGlite's one connection must be kept.
    client.release(db.pglite ? undefined : failure);
  }
}

/**
 * The items whose prediction by a model this process has stored or is storing, as one bit per
 * item id: a model's prediction of an item never changes, so a later round with the same model
 * skips them. Measured on 200k-1M items: every round after the first re-sent every prediction,
 * which the merge then dropped (ON CONFLICT DO NOTHING): seconds of work that held up the next
 * round. A failed write forgets the model (the next round stores them again). Another process
 * does not know of them and merges them again, harmlessly; ids above {@link MAX_REMEMBERED_ID}
 * are never remembered.
 */
class StoredPredictions {
  private readonly byModel = new Map<string, Uint8Array>();

  /** Marks the chunk's items as stored and returns the rows that were not (all: undefined). */
  claim(modelId: string, ids: BigInt64Array): Int32Array | undefined {
    let bits = this.byModel.get(modelId) ?? new Uint8Array(0);
    // Little-endian halves of each id, read as numbers: reading a BigInt64Array element
    // allocates a bigint, and converting and comparing those per item cost a warm round of 1M
    // items ~0.2 s of main-thread time (measured: ~0.04 s this way).
    const words = new Int32Array(ids.buffer, ids.byteOffset, ids.length * 2);
    let top = 0;
    for (let r = 0; r < ids.length; r++) {
      const id = words[2 * r] >>> 0;
      if (words[2 * r + 1] === 0 && id <= MAX_REMEMBERED_ID && id > top) top = id;
    }
    if (top >= bits.length * 8) {
      const grown = new Uint8Array(Math.max((top >> 3) + 1, bits.length * 2));
      grown.set(bits);
      bits = grown;
    }
    const fresh = new Int32Array(ids.length);
    let n = 0;
    for (let r = 0; r < ids.length; r++) {
      const id = words[2 * r] >>> 0;
      if (words[2 * r + 1] !== 0 || id > MAX_REMEMBERED_ID) fresh[n++] = r;
      else if (!(bits[id >> 3] & (1 << (id & 7)))) {
        bits[id >> 3] |= 1 << (id & 7);
        fresh[n++] = r;
      }
    }
    // Re-inserted at the end of the map's order: the models used longest ago are forgotten first.
    this.byModel.delete(modelId);
    this.byModel.set(modelId, bits);
    while (this.byModel.size > REMEMBERED_MODELS)
      this.byModel.delete(this.byModel.keys().next().value!);
    return n === ids.length ? undefined : fresh.subarray(0, n);
  }

  forget(modelId: string): void {
    this.byModel.delete(modelId);
  }
}

/** Item ids up to this (256 Mi, a 32 MiB bitmap per model) are remembered. */
const MAX_REMEMBERED_ID = 2 ** 28;
/** Models whose stored predictions a process remembers. */
const REMEMBERED_MODELS = 8;
const stored = new StoredPredictions();

/** The longest a prediction write waits for the rounds scoring in this process. */
const MAX_YIELD_MS = 10_000;

/**
 * The rounds (and shards) scoring in this process now. The predictions of a round that opened
 * are stored while the next one may already be scoring: each of their writes (text encoding on
 * the main thread, a COPY and a merge in the database) first waits until no round scores, or
 * {@link MAX_YIELD_MS} at most, so that a round does not share the cores with the writes of the
 * one before it.
 */
class ScoringGate {
  private active = 0;
  private waiters: (() => void)[] = [];

  /** A round starts scoring; call the returned function when it stops (again is harmless). */
  enter(): () => void {
    this.active++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (--this.active === 0) for (const wake of this.waiters.splice(0)) wake();
    };
  }

  /** Resolves once no round scores, or after `maxMs`. */
  idle(maxMs: number): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve();
      }, maxMs);
      timer.unref();
      this.waiters.push(wake);
    });
  }
}

/** See {@link ScoringGate}: `const leave = scoringGate.enter(); try { … } finally { leave(); }`. */
export const scoringGate = new ScoringGate();

/**
 * A round's predictions: kept in memory while the pool scores (14 bytes an item) and stored
 * once the round is open, so the database and the cores serve the scoring first (measured on
 * 1M items, 2 cores: storing them alongside the scoring made the round take ~2x as long).
 * Pre-labels of the new queries may thus trail the round's opening by seconds, more while
 * another round scores (see {@link ScoringGate}). Failures are logged, not raised: predictions
 * are derived data, re-made by the next round.
 */
export class PredictionSink {
  private readonly chunks: {
    ids: BigInt64Array;
    predictedClass: Int16Array;
    confidence: Float32Array;
  }[] = [];

  constructor(
    private readonly db: Database,
    private readonly modelId: string,
    private readonly onError: (e: unknown) => void,
  ) {}

  add(ids: BigInt64Array, predictedClass: Int16Array, confidence: Float32Array): void {
    const rows = stored.claim(this.modelId, ids);
    if (rows === undefined) {
      this.chunks.push({ ids, predictedClass, confidence });
    } else if (rows.length > 0) {
      this.chunks.push({
        ids: BigInt64Array.from(rows, (r) => ids[r]),
        predictedClass: Int16Array.from(rows, (r) => predictedClass[r]),
        confidence: Float32Array.from(rows, (r) => confidence[r]),
      });
    }
  }

  /** Stores everything added so far; failures are reported to `onError` once. */
  async flush(): Promise<void> {
    const chunks = this.chunks.splice(0);
    try {
      for (const c of chunks) {
        await scoringGate.idle(MAX_YIELD_MS);
        await writePredictions(this.db, this.modelId, c.ids, c.predictedClass, c.confidence);
      }
    } catch (e) {
      stored.forget(this.modelId);
      this.onError(e);
    }
  }
}
