/**
 * Reads item feature vectors out of the database in large chunks, for scoring. Both backends use
 * binary COPY, parsed straight into typed arrays: on PostgreSQL it is several times faster than a
 * plain SELECT of the `bytea` column, on PGlite about 30 times (DESIGN.md, "Facts measured").
 */
import os from 'node:os';
import type { Readable } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Database } from './database';
import { copyFeaturesBinary } from './sql/items.sql';

if (os.endianness() !== 'LE') {
  // Features are stored as little-endian float32 and copied into a Float32Array without conversion.
  throw new Error('Quarry needs a little-endian machine.');
}

/** One chunk of rows, in id order. */
export interface FeatureChunk {
  /** Item ids, ascending. Length `rows`. */
  ids: BigInt64Array;
  /** Row-major `rows x dim`. Its buffer holds exactly these rows, so it can be transferred. */
  features: Float32Array;
  rows: number;
  dim: number;
}

/** Where {@link parseBinaryCopy} writes: arrays with room for the rows to come. */
export interface FeatureTarget {
  ids: BigInt64Array;
  features: Float32Array;
}

export interface StreamFeaturesOptions {
  /**
   * Returns trusted SQL selecting `(id bigint, features bytea)` rows after `afterId`, in id
   * order, at most `limit` of them:
   * `SELECT id, features FROM item WHERE dataset_id = '…' AND id > ${afterId} ORDER BY id LIMIT ${limit}`.
   * It is wrapped in a COPY, which takes no parameters: inline only validated literals. `afterId`
   * is always a decimal integer.
   */
  selectSql: (afterId: string, limit: number) => string;
  /** Float32 values per vector; a stored vector of another length fails the stream. */
  featureDim: number;
  /** Rows per chunk (and per query), e.g. 50 000. */
  chunkRows: number;
  /** Stops the stream (it throws the signal's reason) at the next chunk boundary or sooner. */
  signal?: AbortSignal;
  /** The id to start after. Default `'0'`: item ids are identities starting at 1. */
  afterId?: string;
}

const COPY_SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];
/** Signature, int32 flags, int32 length of the header extension. */
const HEADER_FIXED_BYTES = COPY_SIGNATURE.length + 8;
const FLAG_HAS_OIDS = 1 << 16;
/** int16 field count, then int32 length and 8 bytes of the id, then int32 length of the vector. */
const TUPLE_PREFIX_BYTES = 2 + 4 + 8 + 4;

type ParserState = 'header' | 'rows' | 'done';

/**
 * Parses PostgreSQL's binary COPY format of `(id bigint, features bytea)` rows incrementally:
 * feed it the stream's pieces as they come, split anywhere. It keeps at most one row's bytes
 * between pieces; everything else goes straight into the target arrays.
 */
export class BinaryCopyParser {
  /** Rows written so far. */
  rows = 0;
  readonly #dim: number;
  readonly #idBytes: Uint8Array;
  readonly #featureBytes: Uint8Array;
  readonly #capacity: number;
  #state: ParserState = 'header';
  /** Bytes of an unfinished unit (header or row) from the previous pieces. */
  #pending: Uint8Array | null = null;
  /** Bytes the unit at the stopping point needs, counted from its start, before parsing can go on. */
  #need = 0;

  /** @throws RangeError when `dim` is not a positive integer or the target arrays disagree */
  constructor(dim: number, target: FeatureTarget) {
    if (!Number.isInteger(dim) || dim <= 0) {
      throw new RangeError(`dim must be a positive integer, got ${dim}`);
    }
    if (target.features.length !== target.ids.length * dim) {
      throw new RangeError(
        `target.features has room for ${target.features.length / dim} rows, target.ids for ${target.ids.length}`,
      );
    }
    this.#dim = dim;
    this.#capacity = target.ids.length;
    this.#idBytes = new Uint8Array(target.ids.buffer, target.ids.byteOffset, target.ids.byteLength);
    this.#featureBytes = new Uint8Array(
      target.features.buffer,
      target.features.byteOffset,
      target.features.byteLength,
    );
  }

  /** Parses the next piece of the COPY stream. @throws Error when the data is malformed */
  push(data: Uint8Array): void {
    // A plain view of a Buffer: a Buffer's subarray() makes a Buffer, measurably slower per row
    // (~1.3-1.7x on the per-row copy of the vectors, micro-measured).
    const piece =
      data.constructor === Uint8Array
        ? data
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let offset = 0;
    // Complete the unit split across pieces with just the bytes it lacks, not the whole piece.
    while (this.#pending !== null && offset < piece.length) {
      const take = Math.min(piece.length - offset, this.#need - this.#pending.length);
      const joined = new Uint8Array(this.#pending.length + take);
      joined.set(this.#pending);
      joined.set(piece.subarray(offset, offset + take), this.#pending.length);
      offset += take;
      const stop = this.#parse(joined, 0);
      this.#pending = stop < joined.length ? joined.subarray(stop) : null;
    }
    if (offset < piece.length) {
      const stop = this.#parse(piece, offset);
      // A copy (`Buffer#slice` would not be one): the caller may reuse the piece's memory.
      if (stop < piece.length) this.#pending = new Uint8Array(piece.subarray(stop));
    }
  }

  /**
   * Checks that the stream ended where it should (after its trailer).
   *
   * @returns the number of rows
   * @throws Error when the stream was cut short
   */
  end(): number {
    if (this.#state !== 'done') {
      const where = this.#state === 'header' ? 'in its header' : 'before its end-of-data marker';
      throw new Error(`binary COPY data ended ${where} (after ${this.rows} rows)`);
    }
    return this.rows;
  }

  /** Parses whole units from `start`; returns where it stopped for want of bytes. */
  #parse(buffer: Uint8Array, start: number): number {
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    const end = buffer.length;
    let offset = start;
    if (this.#state === 'header') {
      if (end - offset < HEADER_FIXED_BYTES) {
        this.#need = HEADER_FIXED_BYTES;
        return offset;
      }
      COPY_SIGNATURE.forEach((byte, i) => {
        if (buffer[offset + i] !== byte) {
          throw new Error('binary COPY data does not start with the PGCOPY signature');
        }
      });
      const flags = view.getInt32(offset + COPY_SIGNATURE.length);
      if (flags & FLAG_HAS_OIDS) throw new Error('binary COPY data has OIDs; expected none');
      const extensionBytes = view.getInt32(offset + COPY_SIGNATURE.length + 4);
      if (end - offset < HEADER_FIXED_BYTES + extensionBytes) {
        this.#need = HEADER_FIXED_BYTES + extensionBytes;
        return offset;
      }
      offset += HEADER_FIXED_BYTES + extensionBytes;
      this.#state = 'rows';
    }

    const vectorBytes = this.#dim * 4;
    const tupleBytes = TUPLE_PREFIX_BYTES + vectorBytes;
    const idBytes = this.#idBytes;
    while (this.#state === 'rows') {
      const available = end - offset;
      if (available < 2) {
        this.#need = 2;
        return offset;
      }
      const fields = view.getInt16(offset);
      if (fields === -1) {
        this.#state = 'done';
        offset += 2;
        break;
      }
      if (fields !== 2) {
        throw new Error(
          `row ${this.rows} of the binary COPY data has ${fields} columns, expected 2 (id, features)`,
        );
      }
      // Lengths are checked as soon as they are in, so a malformed row fails here rather than
      // waiting for bytes that a shorter row will never bring.
      if (available < 6) {
        this.#need = 6;
        return offset;
      }
      const idLength = view.getInt32(offset + 2);
      if (idLength !== 8) {
        throw new Error(
          `row ${this.rows} of the binary COPY data has ${idLength === -1 ? 'a NULL id' : `an id of ${idLength} bytes`}, expected a bigint (8 bytes)`,
        );
      }
      if (available < TUPLE_PREFIX_BYTES) {
        this.#need = TUPLE_PREFIX_BYTES;
        return offset;
      }
      const featuresLength = view.getInt32(offset + 14);
      if (featuresLength !== vectorBytes) {
        const id = view.getBigInt64(offset + 6);
        throw new Error(
          featuresLength === -1
            ? `item ${id} has NULL features`
            : `item ${id} has ${featuresLength} bytes of features, expected ${vectorBytes} (${this.#dim} float32 values)`,
        );
      }
      if (available < tupleBytes) {
        this.#need = tupleBytes;
        return offset;
      }
      const row = this.rows;
      if (row >= this.#capacity) {
        throw new Error(`binary COPY data has more than the ${this.#capacity} rows expected`);
      }
      // The id is big-endian on the wire; the host is little-endian.
      const id = offset + 6;
      const at = row * 8;
      for (let k = 0; k < 8; k++) idBytes[at + k] = buffer[id + 7 - k];
      this.#featureBytes.set(
        buffer.subarray(offset + TUPLE_PREFIX_BYTES, offset + tupleBytes),
        row * vectorBytes,
      );
      this.rows = row + 1;
      offset += tupleBytes;
    }
    if (offset < end) throw new Error('binary COPY data goes on after its end-of-data marker');
    return offset;
  }
}

/**
 * Parses a whole binary COPY stream of `(id bigint, features bytea)` rows into `out`, from its
 * first row on. Ids are big-endian int8 on the wire; features are the stored little-endian
 * float32 bytes, `dim * 4` of them per row.
 *
 * @returns the number of rows written
 * @throws Error when the data is malformed, cut short, holds a vector of another length, or has
 *   more rows than `out` has room for
 */
export function parseBinaryCopy(buffer: Uint8Array, dim: number, out: FeatureTarget): number {
  const parser = new BinaryCopyParser(dim, out);
  parser.push(buffer);
  return parser.end();
}

/**
 * Streams the rows of a trusted SELECT of `(id bigint, features bytea)` in id order, keyset-
 * paginated in chunks of `chunkRows` (one query each). Each chunk is fresh memory the consumer
 * owns, so its buffers can be transferred to a worker.
 *
 * On the embedded database this holds PGlite's one connection for each chunk's query: do not
 * iterate it while holding a connection yourself (inside a transaction), or both wait forever.
 *
 * @throws RangeError when an option is malformed
 * @throws Error when the data is malformed (a vector of another length, a NULL) or the SELECT
 *   gives ids out of order; the signal's reason when it aborts
 */
export async function* streamFeatures(
  db: Database,
  opts: StreamFeaturesOptions,
): AsyncGenerator<FeatureChunk> {
  const { featureDim: dim, chunkRows, signal } = opts;
  if (!Number.isInteger(dim) || dim <= 0) {
    throw new RangeError(`opts.featureDim must be a positive integer, got ${dim}`);
  }
  if (!Number.isInteger(chunkRows) || chunkRows <= 0) {
    throw new RangeError(`opts.chunkRows must be a positive integer, got ${chunkRows}`);
  }
  let afterId = opts.afterId ?? '0';
  if (!/^-?\d+$/.test(afterId)) {
    throw new RangeError(`opts.afterId must be a decimal integer, got ${JSON.stringify(afterId)}`);
  }
  const pool = pgPool(db);
  for (;;) {
    signal?.throwIfAborted();
    const ids = new BigInt64Array(chunkRows);
    const features = new Float32Array(chunkRows * dim);
    const parser = new BinaryCopyParser(dim, { ids, features });
    const sql = opts.selectSql(afterId, chunkRows);
    if (db.kind === 'pglite') await copyOnPglite(db, pool, sql, parser);
    else await copyOnPostgres(pool, sql, parser, signal);
    const rows = parser.end();
    signal?.throwIfAborted();
    if (rows === 0) return;
    checkOrder(ids, rows, afterId);
    // Read before yielding: the consumer may transfer (detach) the chunk's buffers.
    afterId = ids[rows - 1].toString();
    yield rows === chunkRows
      ? { ids, features, rows, dim }
      : { ids: ids.slice(0, rows), features: features.slice(0, rows * dim), rows, dim };
    if (rows < chunkRows) return;
  }
}

/** Runs a trusted `SELECT count(*) ...` and returns the count as a number. */
export async function countRows(db: Database, countSql: string): Promise<number> {
  const result: Record<string, unknown>[] = await db.ds.query(countSql);
  const value = result[0] === undefined ? undefined : Object.values(result[0])[0];
  const count = Number(value);
  if (!Number.isSafeInteger(count)) {
    throw new Error(`the count query gave ${String(value)}, expected an integer`);
  }
  return count;
}

/** TypeORM's pg pool; on PGlite a pool of its one connection. */
function pgPool(db: Database): Pool {
  return (db.ds.driver as unknown as { master: Pool }).master;
}

async function copyOnPostgres(
  pool: Pool,
  select: string,
  parser: BinaryCopyParser,
  signal: AbortSignal | undefined,
): Promise<void> {
  const client: PoolClient = await pool.connect();
  if (signal?.aborted) {
    client.release();
    signal.throwIfAborted();
  }
  let failure: Error | undefined;
  const stream: Readable = client.query(copyTo(copyFeaturesBinary(select, 'stdout')));
  const abort = (): void => {
    stream.destroy(signal?.reason);
  };
  signal?.addEventListener('abort', abort, { once: true });
  try {
    for await (const piece of stream) parser.push(piece as Buffer);
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    // The connection may still be in COPY mode; late errors from it must not go unhandled.
    stream.on('error', () => undefined);
    throw error;
  } finally {
    signal?.removeEventListener('abort', abort);
    // Passing the failure drops the connection instead of returning one mid-COPY to the pool.
    client.release(failure);
  }
}

async function copyOnPglite(
  db: Database,
  pool: Pool,
  select: string,
  parser: BinaryCopyParser,
): Promise<void> {
  const pglite = db.pglite;
  if (pglite === undefined) throw new Error('the embedded database has no PGlite instance');
  // PGlite is one connection, shared with the pg pool: holding the pool's only client keeps
  // every other statement (another request's transaction) from interleaving with the COPY.
  const client = await pool.connect();
  try {
    const result = await pglite.query(copyFeaturesBinary(select, 'pglite-blob'));
    if (result.blob === undefined) throw new Error('PGlite gave no data for COPY TO /dev/blob');
    parser.push(new Uint8Array(await result.blob.arrayBuffer()));
  } finally {
    client.release();
  }
}

function checkOrder(ids: BigInt64Array, rows: number, afterId: string): void {
  let previous = BigInt(afterId);
  for (let i = 0; i < rows; i++) {
    if (ids[i] <= previous) {
      throw new Error(
        `the feature query gave id ${ids[i]} after ${previous}; it must select ids above afterId and ORDER BY id`,
      );
    }
    previous = ids[i];
  }
}
