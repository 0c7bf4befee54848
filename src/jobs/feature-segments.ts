/**
 * The files of the feature cache (see `feature-cache.ts`): immutable segments
 * `<firstId>-<lastId>.seg`, each a 64-byte header (magic, dataset id, dataset creation time,
 * dim, rows, first and last id), the rows' float32 vectors, then their ids; written to a
 * temporary file and renamed into place.
 */
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import type { FeatureChunk } from '../db/pool-reader';
import { logger } from '../logger';

const MAGIC = Buffer.from('QRYFEAT1', 'latin1');
export const HEADER_BYTES = 64;
export const SEGMENT_NAME = /^([1-9][0-9]{0,18})-([1-9][0-9]{0,18})\.seg$/;
/** A temporary file this old was left by a process that died while writing it. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/** What a segment's header says. */
export interface SegmentHeader {
  datasetId: string;
  createdMs: number;
  dim: number;
  rows: number;
  firstId: bigint;
  lastId: bigint;
}

/** A valid segment, open for reading (held open: another process may replace or remove it). */
export interface Segment {
  header: SegmentHeader;
  file: FileHandle;
  ids: BigInt64Array;
}

function encodeHeader(h: SegmentHeader): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(b, 0);
  Buffer.from(h.datasetId.replace(/-/g, ''), 'hex').copy(b, 8);
  b.writeDoubleLE(h.createdMs, 24);
  b.writeUInt32LE(h.dim, 32);
  b.writeUInt32LE(h.rows, 36);
  b.writeBigInt64LE(h.firstId, 40);
  b.writeBigInt64LE(h.lastId, 48);
  return b;
}

function decodeHeader(b: Buffer): SegmentHeader | undefined {
  if (b.length < HEADER_BYTES || !b.subarray(0, 8).equals(MAGIC)) return undefined;
  const hex = b.subarray(8, 24).toString('hex');
  return {
    datasetId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
    createdMs: b.readDoubleLE(24),
    dim: b.readUInt32LE(32),
    rows: b.readUInt32LE(36),
    firstId: b.readBigInt64LE(40),
    lastId: b.readBigInt64LE(48),
  };
}

function segmentBytes(h: Pick<SegmentHeader, 'rows' | 'dim'>): number {
  return HEADER_BYTES + h.rows * h.dim * 4 + h.rows * 8;
}

/** Reads `bytes` at `position` of `file` into `into` (a view), all of them or it throws. */
export async function readExactly(
  file: FileHandle,
  into: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await file.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error('a feature cache file ended early');
    done += bytesRead;
  }
}

/** Excluded rows between kept ones are read into a scratch buffer up to this size. */
export const SKIP_BYTES = 64 * 1024;
/** Buffers of one vectored read (below every system's IOV_MAX). */
const MAX_BUFFERS = 512;

/**
 * Reads the rows `runs` (pairs `[begin, end)` of row numbers, ascending) of the rows stored from
 * `position` on, `rowBytes` each, into `into` one after another: a vectored read per stretch of
 * the file, the rows between runs landing in `skip` (a gap wider than it starts a new read).
 */
export async function readRuns(
  file: FileHandle,
  into: Uint8Array,
  runs: number[],
  rowBytes: number,
  position: number,
  skip: Uint8Array,
): Promise<void> {
  let at = 0;
  let k = 0;
  while (k < runs.length) {
    const from = position + runs[k] * rowBytes;
    const buffers: Uint8Array[] = [];
    let bytes = 0;
    let kEnd = k;
    for (;;) {
      const n = (runs[kEnd + 1] - runs[kEnd]) * rowBytes;
      buffers.push(into.subarray(at + bytes, at + bytes + n));
      bytes += n;
      kEnd += 2;
      if (kEnd >= runs.length || buffers.length + 2 > MAX_BUFFERS) break;
      const gap = (runs[kEnd] - runs[kEnd - 1]) * rowBytes;
      if (gap > skip.length) break;
      buffers.push(skip.subarray(0, gap));
    }
    const total = buffers.reduce((n, b) => n + b.length, 0);
    const { bytesRead } = await file.readv(buffers, from);
    if (bytesRead !== total) {
      // A short read (rare: a signal, a system's smaller vector limit): the rest one run at a time.
      for (let j = k; j < kEnd; j += 2) {
        const n = (runs[j + 1] - runs[j]) * rowBytes;
        await readExactly(file, into.subarray(at, at + n), position + runs[j] * rowBytes);
        at += n;
      }
    } else at += bytes;
    k = kEnd;
  }
}

export function bytesOf(a: BigInt64Array | Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Writes a segment into a temporary file; {@link commit} renames it into place. */
export class SegmentWriter {
  private readonly ids: BigInt64Array[] = [];
  private rows = 0;
  private lastId = 0n;
  private constructor(
    private readonly dir: string,
    private readonly temp: string,
    private readonly file: FileHandle,
    private readonly header: Pick<SegmentHeader, 'datasetId' | 'createdMs' | 'dim'>,
  ) {}

  static async create(
    dir: string,
    header: Pick<SegmentHeader, 'datasetId' | 'createdMs' | 'dim'>,
  ): Promise<SegmentWriter> {
    const temp = path.join(dir, `.${process.pid}-${crypto.randomBytes(6).toString('hex')}.tmp`);
    return new SegmentWriter(dir, temp, await fsp.open(temp, 'w'), header);
  }

  /** Appends a chunk (rows in id order, above every row before). Copy nothing: it is written. */
  async add(chunk: FeatureChunk): Promise<void> {
    if (chunk.rows === 0) return;
    const at = HEADER_BYTES + this.rows * this.header.dim * 4;
    await this.file.write(
      bytesOf(chunk.features.subarray(0, chunk.rows * chunk.dim)),
      0,
      undefined,
      at,
    );
    this.ids.push(chunk.ids.slice(0, chunk.rows));
    this.rows += chunk.rows;
    this.lastId = chunk.ids[chunk.rows - 1];
  }

  get rowCount(): number {
    return this.rows;
  }

  get maxId(): bigint {
    return this.lastId;
  }

  /** Finishes the file and renames it into place; returns it as a segment (open). */
  async commit(): Promise<Segment | undefined> {
    if (this.rows === 0) {
      await this.discard();
      return undefined;
    }
    const ids = new BigInt64Array(this.rows);
    let at = 0;
    for (const part of this.ids) {
      ids.set(part, at);
      at += part.length;
    }
    const header: SegmentHeader = {
      ...this.header,
      rows: this.rows,
      firstId: ids[0],
      lastId: ids[this.rows - 1],
    };
    await this.file.write(bytesOf(ids), 0, undefined, HEADER_BYTES + this.rows * header.dim * 4);
    await this.file.write(encodeHeader(header), 0, undefined, 0);
    await this.file.close();
    const name = path.join(this.dir, `${header.firstId}-${header.lastId}.seg`);
    await fsp.rename(this.temp, name);
    return { header, ids, file: await fsp.open(name, 'r') };
  }

  async discard(): Promise<void> {
    await this.file.close().catch(() => undefined);
    await fsp.rm(this.temp, { force: true });
  }
}

/**
 * Finds the cached segments of a dataset that are whole and its own, in id order without
 * overlaps, and opens them. A malformed or foreign file is removed (it would never be served).
 */
export async function openSegments(
  dir: string,
  expect: Omit<SegmentHeader, 'rows' | 'firstId' | 'lastId'>,
): Promise<Segment[]> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const found: Segment[] = [];
  for (const name of names) {
    const full = path.join(dir, name);
    if (name.endsWith('.tmp')) {
      const stat = await fsp.stat(full).catch(() => undefined);
      if (stat && Date.now() - stat.mtimeMs > STALE_TEMP_MS) await fsp.rm(full, { force: true });
      continue;
    }
    const m = SEGMENT_NAME.exec(name);
    if (!m) continue;
    const file = await fsp.open(full, 'r').catch(() => undefined);
    if (!file) continue;
    let keep = false;
    try {
      const head = Buffer.alloc(HEADER_BYTES);
      const { bytesRead } = await file.read(head, 0, HEADER_BYTES, 0);
      const h = bytesRead === HEADER_BYTES ? decodeHeader(head) : undefined;
      const size = (await file.stat()).size;
      keep =
        h !== undefined &&
        h.datasetId === expect.datasetId &&
        h.createdMs === expect.createdMs &&
        h.dim === expect.dim &&
        h.rows > 0 &&
        h.firstId === BigInt(m[1]) &&
        h.lastId === BigInt(m[2]) &&
        size === segmentBytes(h);
      if (keep && h) {
        const ids = new BigInt64Array(h.rows);
        await readExactly(file, bytesOf(ids), HEADER_BYTES + h.rows * h.dim * 4);
        keep = ids[0] === h.firstId && ids[h.rows - 1] === h.lastId;
        if (keep) found.push({ header: h, file, ids });
      }
    } catch {
      keep = false;
    }
    if (!keep) {
      await file.close().catch(() => undefined);
      logger.warn({ file: full }, 'feature cache file is not whole or not this dataset’s; removed');
      await fsp.rm(full, { force: true });
    }
  }
  found.sort((a, b) =>
    a.header.firstId < b.header.firstId
      ? -1
      : a.header.firstId > b.header.firstId
        ? 1
        : Number(b.header.lastId - a.header.lastId),
  );
  const chain: Segment[] = [];
  for (const s of found) {
    const last = chain[chain.length - 1];
    if (!last || s.header.firstId > last.header.lastId) chain.push(s);
    else await s.file.close();
  }
  return chain;
}

/** Closes the segments' files (again is harmless). */
export async function closeAll(segments: Segment[]): Promise<void> {
  await Promise.all(segments.map((s) => s.file.close().catch(() => undefined)));
}
