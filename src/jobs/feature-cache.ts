/**
 * A process's copy of each dataset's POOL feature vectors, in files, so that a warm round does
 * not read them over the database connection again: features and splits never change after
 * import. Measured on 1M x 128 float32 (2 cores, PostgreSQL 15): reading the pool out of the
 * database by binary COPY took 2.4-2.9 s a round, the anti-join against labels and open queries
 * over the wide `item` rows alone about as long; reading the same bytes from these files (page
 * cache) takes a small fraction of the inference time.
 *
 * Layout: `<dir>/<datasetId>/<firstId>-<lastId>.seg`, immutable segments made in a temporary file
 * and renamed into place (several processes may share the directory; a rename is atomic and
 * identical segments replace each other harmlessly). A segment is a 64-byte header (magic,
 * dataset id, dataset creation time, dim, rows, first and last id), the rows' float32 vectors,
 * then their ids. New items land in a new segment holding the ids above the last one cached.
 *
 * Every round checks the cache against the database by the dataset's POOL item count (kept by
 * triggers on `item`) and largest POOL item id; a segment of another dataset, another dimension,
 * a wrong size (a truncated file) or a stale cache is never served: the round reads the
 * database instead and rebuilds the files as it goes. The pool filter (unlabelled, not queued)
 * is read from the database every round ({@link poolExclusions}), so picks stay exact.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '../db/database';
import { streamFeatures, type FeatureChunk } from '../db/pool-reader';
import { poolExclusions, poolItemCount, poolItemsCopy, type PoolScope } from '../db/sql/pool.sql';
import { run } from '../db/sql/statement';
import { logger } from '../logger';
import {
  bytesOf,
  closeAll,
  HEADER_BYTES,
  openSegments,
  readRuns,
  SEGMENT_NAME,
  SKIP_BYTES,
  SegmentWriter,
  type Segment,
  type SegmentHeader,
} from './feature-segments';
import {
  cacheOwner,
  compactSegments,
  DEFAULT_MAX_SEGMENTS,
  markOwner,
  removeDatasetFiles,
} from './feature-housekeeping';

/** The dataset as the cache checks it. */
export interface CachedDataset {
  id: string;
  featureDim: number;
}

/** The eligible rows of a round's pool, in id order, and how many there are. */
export interface PoolRead {
  /** Chunks of eligible rows; each chunk's buffers belong to the consumer. */
  chunks: AsyncGenerator<FeatureChunk>;
  /** The eligible rows: known at once from the cache, at the stream's end from the database. */
  total: Promise<number>;
  /** Where the vectors come from this round. */
  source: 'cache' | 'database';
  /** Releases files held for the stream; call it when done, even if the stream never started. */
  release(): Promise<void>;
}

/** The check values the database gives for a dataset's POOL items. */
interface PoolState {
  n: number;
  maxId: bigint;
  createdMs: number;
}

/** Keeps the rows of a chunk whose ids are not in `excluded` (sorted). */
class ExclusionFilter {
  private at = 0;
  /**
   * The excluded ids as doubles (exact below 2^53, far above any identity value): reading a
   * BigInt64Array element allocates a bigint, and comparing two of them per row of every chunk
   * cost a warm round most of its main-thread time.
   */
  private readonly excluded: Float64Array;
  constructor(excluded: BigInt64Array) {
    this.excluded = Float64Array.from(excluded, Number);
  }

  /** Whether `id` is excluded; ids must come in ascending order across calls. */
  private excludesNumber(id: number): boolean {
    const ex = this.excluded;
    while (this.at < ex.length && ex[this.at] < id) this.at++;
    return this.at < ex.length && ex[this.at] === id;
  }

  /** Counts the ids of `ids` not excluded (ascending, after every id seen before). */
  countKept(ids: BigInt64Array): number {
    const words = new Int32Array(ids.buffer, ids.byteOffset, ids.length * 2);
    let n = 0;
    for (let r = 0; r < ids.length; r++) {
      if (!this.excludesNumber(words[2 * r + 1] * 4294967296 + (words[2 * r] >>> 0))) n++;
    }
    return n;
  }

  /**
   * Of the rows `[start, start + rows)` of `ids` (ascending, after every id seen before), the
   * kept ones: their ids, and as runs `[begin, end)` of row numbers counted from `start`, in
   * pairs. What a cached segment's reader needs to read the kept vectors straight into place.
   */
  keptRuns(
    ids: BigInt64Array,
    start: number,
    rows: number,
  ): { ids: BigInt64Array; runs: number[] } {
    const words = new Int32Array(ids.buffer, ids.byteOffset + start * 8, rows * 2);
    const runs: number[] = [];
    let begin = -1;
    let kept = 0;
    for (let r = 0; r < rows; r++) {
      if (this.excludesNumber(words[2 * r + 1] * 4294967296 + (words[2 * r] >>> 0))) {
        if (begin >= 0) runs.push(begin, r);
        begin = -1;
      } else {
        if (begin < 0) begin = r;
        kept++;
      }
    }
    if (begin >= 0) runs.push(begin, rows);
    if (kept === rows) return { ids: ids.slice(start, start + rows), runs };
    const out = new BigInt64Array(kept);
    let at = 0;
    for (let k = 0; k < runs.length; k += 2) {
      out.set(ids.subarray(start + runs[k], start + runs[k + 1]), at);
      at += runs[k + 1] - runs[k];
    }
    return { ids: out, runs };
  }

  apply(chunk: FeatureChunk): FeatureChunk {
    const { features, dim } = chunk;
    const kept = this.keptRuns(chunk.ids, 0, chunk.rows);
    if (
      kept.runs.length === 2 &&
      kept.ids.length === chunk.rows &&
      chunk.ids.length === chunk.rows &&
      features.length === chunk.rows * dim
    )
      return chunk;
    // One copy of each run of kept rows into a chunk of their own (moving them up in place and
    // then slicing the chunk to size copied nearly every vector twice).
    const out = new Float32Array(kept.ids.length * dim);
    let at = 0;
    for (let k = 0; k < kept.runs.length; k += 2) {
      out.set(features.subarray(kept.runs[k] * dim, kept.runs[k + 1] * dim), at);
      at += (kept.runs[k + 1] - kept.runs[k]) * dim;
    }
    return { ids: kept.ids, features: out, rows: kept.ids.length, dim };
  }
}

/**
 * The feature files of one directory, shared by the rounds of this process (and any process
 * given the same directory).
 */
export class FeatureCache {
  private owner: Promise<string> | undefined;

  constructor(
    private readonly root: string,
    private readonly db: Database,
    private readonly chunkRows: number,
    /** Segments of a dataset beyond which a round compacts them into one. */
    private readonly maxSegments: number = DEFAULT_MAX_SEGMENTS,
  ) {}

  /**
   * The eligible rows of `scope` (a round's pool), from the cache when it matches the database,
   * else from the database by COPY while the cache is rebuilt. Throws only for database errors;
   * a file problem makes it read the database.
   */
  async pool(dataset: CachedDataset, scope: PoolScope): Promise<PoolRead> {
    const state = await this.state(dataset.id);
    const excluded = await this.exclusions(scope);
    const dir = path.join(this.root, dataset.id);
    const expect = { datasetId: dataset.id, createdMs: state.createdMs, dim: dataset.featureDim };
    let segments: Segment[] = [];
    try {
      await fsp.mkdir(dir, { recursive: true });
      await markOwner(dir, await (this.owner ??= cacheOwner(this.db)));
      segments = await openSegments(dir, expect);
      if (segments.length > 0) {
        let warm = await this.refresh(dir, segments, expect, state);
        if (warm && warm.length > this.maxSegments) {
          const chain = warm;
          warm = await compactSegments(dir, chain, expect).catch((e: unknown) => {
            logger.warn({ err: e, dir }, 'compacting the feature cache failed');
            return chain;
          });
        }
        if (warm) return this.serve(warm, excluded, dataset.featureDim);
        // Stale (an item deleted, or rows committed below the cached ids): start again.
        await closeAll(segments);
        for (const s of segments)
          await fsp.rm(path.join(dir, `${s.header.firstId}-${s.header.lastId}.seg`), {
            force: true,
          });
        segments = [];
      }
    } catch (e) {
      await closeAll(segments);
      logger.warn(
        { err: e, datasetId: dataset.id },
        'feature cache unusable; reading the database',
      );
      return this.fromDatabase(dataset, excluded, undefined);
    }
    const writer = await SegmentWriter.create(dir, expect).catch((e: unknown) => {
      logger.warn({ err: e, dir }, 'feature cache not writable; reading the database');
      return undefined;
    });
    return this.fromDatabase(dataset, excluded, writer);
  }

  private async state(datasetId: string): Promise<PoolState> {
    const [row] = await run<{ n: number; maxId: string | null; createdMs: number }>(
      this.db.ds,
      poolItemCount(datasetId),
    );
    if (!row) {
      await removeDatasetFiles(this.root, datasetId).catch(() => undefined);
      throw new Error(`dataset ${datasetId} not found`);
    }
    return { n: Number(row.n), maxId: BigInt(row.maxId ?? 0), createdMs: Number(row.createdMs) };
  }

  private async exclusions(scope: PoolScope): Promise<BigInt64Array> {
    const rows = await run<{ id: string }>(this.db.ds, poolExclusions(scope));
    const out = BigInt64Array.from(rows, (r) => BigInt(r.id));
    return out.sort();
  }

  /**
   * Adds the items imported since the cache was written (ids above its last one) as a new
   * segment, and checks the whole against the database. Returns the segments to serve, or
   * undefined when the cache no longer matches.
   */
  private async refresh(
    dir: string,
    segments: Segment[],
    expect: Pick<SegmentHeader, 'datasetId' | 'createdMs' | 'dim'>,
    before: PoolState,
  ): Promise<Segment[] | undefined> {
    const cachedRows = segments.reduce((n, s) => n + s.header.rows, 0);
    const cachedMax = segments[segments.length - 1].header.lastId;
    if (cachedRows === before.n && cachedMax === before.maxId) return segments;
    if (cachedRows > before.n || cachedMax > before.maxId) return undefined;
    const writer = await SegmentWriter.create(dir, expect);
    try {
      for await (const chunk of streamFeatures(this.db, {
        selectSql: poolItemsCopy(expect.datasetId),
        featureDim: expect.dim,
        chunkRows: this.chunkRows,
        afterId: cachedMax.toString(),
      })) {
        await writer.add(chunk);
      }
      // Read after the rows: an import committed meanwhile is either in both or shows as a mismatch.
      const after = await this.state(expect.datasetId);
      if (cachedRows + writer.rowCount !== after.n || writer.maxId !== after.maxId) {
        await writer.discard();
        return undefined;
      }
      const added = await writer.commit();
      return added ? [...segments, added] : segments;
    } catch (e) {
      await writer.discard();
      throw e;
    }
  }

  private serve(segments: Segment[], excluded: BigInt64Array, dim: number): PoolRead {
    let total = 0;
    const counter = new ExclusionFilter(excluded);
    for (const s of segments) total += counter.countKept(s.ids);
    const chunkRows = this.chunkRows;
    async function* chunks(): AsyncGenerator<FeatureChunk> {
      const filter = new ExclusionFilter(excluded);
      const skip = new Uint8Array(SKIP_BYTES);
      try {
        for (const s of segments) {
          for (let start = 0; start < s.header.rows; start += chunkRows) {
            const rows = Math.min(chunkRows, s.header.rows - start);
            // The kept rows' vectors are read straight into the chunk the workers get (the
            // excluded ones into a scratch buffer): filtering a whole chunk read first moved
            // and then sliced every vector after the first excluded row, two copies of nearly
            // the whole pool on the main thread of a warm round.
            const kept = filter.keptRuns(s.ids, start, rows);
            if (kept.ids.length === 0) continue;
            const features = new Float32Array(kept.ids.length * dim);
            await readRuns(
              s.file,
              bytesOf(features),
              kept.runs,
              dim * 4,
              HEADER_BYTES + start * dim * 4,
              skip,
            );
            yield { ids: kept.ids, features, rows: kept.ids.length, dim };
          }
        }
      } finally {
        await closeAll(segments);
      }
    }
    return {
      chunks: chunks(),
      total: Promise.resolve(total),
      source: 'cache',
      release: () => closeAll(segments),
    };
  }

  /**
   * Streams every POOL item from the database (cheaper than the eligibility anti-join over the
   * wide item rows), writing the cache as it goes and filtering out what is not eligible. The
   * files are kept only when the stream matched the database's count and largest id.
   */
  private fromDatabase(
    dataset: CachedDataset,
    excluded: BigInt64Array,
    writer: SegmentWriter | undefined,
  ): PoolRead {
    let settle!: (n: number) => void;
    let fail!: (e: unknown) => void;
    const total = new Promise<number>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    total.catch(() => undefined);
    const db = this.db;
    const chunkRows = this.chunkRows;
    const state = () => this.state(dataset.id);
    async function* chunks(): AsyncGenerator<FeatureChunk> {
      const filter = new ExclusionFilter(excluded);
      let eligible = 0;
      let finished = false;
      try {
        for await (const chunk of streamFeatures(db, {
          selectSql: poolItemsCopy(dataset.id),
          featureDim: dataset.featureDim,
          chunkRows,
        })) {
          if (writer) {
            // A cache that cannot be written only costs the next round a database read.
            await writer.add(chunk).catch((e: unknown) => {
              logger.warn({ err: e }, 'writing the feature cache failed');
              const w = writer;
              writer = undefined;
              return w?.discard();
            });
          }
          const kept = filter.apply(chunk);
          eligible += kept.rows;
          if (kept.rows > 0) yield kept;
        }
        finished = true;
        settle(eligible);
      } catch (e) {
        fail(e);
        throw e;
      } finally {
        if (!finished) fail(new Error('the pool stream stopped early'));
        const w = writer;
        writer = undefined;
        if (w) {
          let keep = false;
          if (finished) {
            const after = await state().catch(() => undefined);
            keep = after !== undefined && w.rowCount === after.n && w.maxId === after.maxId;
          }
          if (keep) {
            const s = await w.commit().catch(async (e: unknown) => {
              logger.warn({ err: e }, 'keeping the feature cache failed');
              await w.discard();
              return undefined;
            });
            if (s) await s.file.close();
          } else await w.discard();
        }
      }
    }
    return {
      chunks: chunks(),
      total,
      source: 'database',
      release: async () => {
        const w = writer;
        writer = undefined;
        await w?.discard();
      },
    };
  }
}

/** The cached segment files of a dataset (for tests and tools). */
export function featureCacheFiles(root: string, datasetId: string): string[] {
  const dir = path.join(root, datasetId);
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((n) => SEGMENT_NAME.test(n))
        .map((n) => path.join(dir, n))
    : [];
}
