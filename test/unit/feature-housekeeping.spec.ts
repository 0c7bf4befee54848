import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeAll, openSegments, SegmentWriter } from '../../src/jobs/feature-segments';
import { compactSegments, removeDatasetFiles } from '../../src/jobs/feature-housekeeping';

const DATASET = '3f8e0a62-1b2c-4d5e-8f90-0123456789ab';
const OTHER = '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const DIM = 3;
const expectOf = (datasetId: string) => ({ datasetId, createdMs: 1234, dim: DIM });

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-housekeeping-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** The vector of item `id`: distinct per id and dataset. */
function vector(id: number, salt = 0): number[] {
  return [id, id * 2 + salt, -id];
}

/** Writes one segment of ids [from, to) for `datasetId`. */
async function writeSegment(dir: string, datasetId: string, from: number, to: number, salt = 0) {
  fs.mkdirSync(dir, { recursive: true });
  const w = await SegmentWriter.create(dir, expectOf(datasetId));
  const rows = to - from;
  const ids = BigInt64Array.from({ length: rows }, (_, k) => BigInt(from + k));
  const features = Float32Array.from({ length: rows * DIM }, (_, j) => {
    const id = from + Math.floor(j / DIM);
    return vector(id, salt)[j % DIM];
  });
  await w.add({ ids, features, rows, dim: DIM });
  const s = await w.commit();
  await s?.file.close();
}

/** Every row the segments of `dir` serve for `datasetId`: id -> vector. */
async function served(dir: string, datasetId: string): Promise<Map<number, number[]>> {
  const segments = await openSegments(dir, expectOf(datasetId));
  const out = new Map<number, number[]>();
  try {
    for (const s of segments) {
      const bytes = Buffer.alloc(s.header.rows * DIM * 4);
      await s.file.read(bytes, 0, bytes.length, 64);
      const f = new Float32Array(bytes.buffer, bytes.byteOffset, s.header.rows * DIM);
      s.ids.forEach((id, r) => out.set(Number(id), Array.from(f.subarray(r * DIM, (r + 1) * DIM))));
    }
  } finally {
    await closeAll(segments);
  }
  return out;
}

const segFiles = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.seg'))
    .sort();

describe('feature cache compaction', () => {
  it('rewrites many segments into one that serves the same rows, and removes the old files', async () => {
    const dir = path.join(root, DATASET);
    for (let k = 0; k < 10; k++) await writeSegment(dir, DATASET, 1 + k * 5, 1 + (k + 1) * 5);
    const before = await served(dir, DATASET);
    expect(before.size).toBe(50);

    const chain = await openSegments(dir, expectOf(DATASET));
    const compacted = await compactSegments(dir, chain, expectOf(DATASET));
    expect(compacted).toHaveLength(1);
    expect(compacted[0].header.rows).toBe(50);
    await closeAll(compacted);

    expect(segFiles(dir)).toEqual(['1-50.seg']);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(await served(dir, DATASET)).toEqual(before);
  });

  it('lets a reader that opened the old segments finish reading them', async () => {
    const dir = path.join(root, DATASET);
    for (let k = 0; k < 3; k++) await writeSegment(dir, DATASET, 1 + k * 4, 1 + (k + 1) * 4);
    const reader = await openSegments(dir, expectOf(DATASET));
    const compactor = await openSegments(dir, expectOf(DATASET));
    await closeAll(await compactSegments(dir, compactor, expectOf(DATASET)));
    expect(segFiles(dir)).toEqual(['1-12.seg']);
    // The old files are gone by name but still whole for whoever holds them open.
    const last = reader[2];
    const bytes = Buffer.alloc(last.header.rows * DIM * 4);
    const { bytesRead } = await last.file.read(bytes, 0, bytes.length, 64);
    expect(bytesRead).toBe(bytes.length);
    expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, DIM))).toEqual(vector(9));
    await closeAll(reader);
  });

  it('prefers a compacted segment over the old ones a crash left beside it', async () => {
    const dir = path.join(root, DATASET);
    for (let k = 0; k < 3; k++) await writeSegment(dir, DATASET, 1 + k * 4, 1 + (k + 1) * 4);
    // As if a compaction renamed its file into place and died before removing the old ones.
    await writeSegment(dir, DATASET, 1, 13);
    const chain = await openSegments(dir, expectOf(DATASET));
    expect(chain.map((s) => `${s.header.firstId}-${s.header.lastId}`)).toEqual(['1-12']);
    await closeAll(chain);
  });

  it('never serves a truncated compacted file, nor another dataset’s vectors', async () => {
    const dir = path.join(root, DATASET);
    for (let k = 0; k < 3; k++) await writeSegment(dir, DATASET, 1 + k * 4, 1 + (k + 1) * 4);
    await closeAll(
      await compactSegments(dir, await openSegments(dir, expectOf(DATASET)), expectOf(DATASET)),
    );
    const file = path.join(dir, '1-12.seg');
    fs.truncateSync(file, fs.statSync(file).size - 7);
    expect((await served(dir, DATASET)).size).toBe(0);
    expect(fs.existsSync(file)).toBe(false);

    // Another dataset's segment under this dataset's directory and a plausible name.
    const foreign = path.join(root, OTHER);
    await writeSegment(foreign, OTHER, 1, 5, 100);
    fs.copyFileSync(path.join(foreign, '1-4.seg'), path.join(dir, '1-4.seg'));
    expect((await served(dir, DATASET)).size).toBe(0);
    expect((await served(foreign, OTHER)).get(2)).toEqual(vector(2, 100));
  });
});

describe('feature cache removal', () => {
  it("removes a dataset's directory and nothing else", async () => {
    await writeSegment(path.join(root, DATASET), DATASET, 1, 5);
    await writeSegment(path.join(root, OTHER), OTHER, 1, 5);
    await removeDatasetFiles(root, DATASET);
    expect(fs.existsSync(path.join(root, DATASET))).toBe(false);
    expect(segFiles(path.join(root, OTHER))).toEqual(['1-4.seg']);
    await removeDatasetFiles(root, DATASET);
  });

  it('refuses a name that is not a dataset id', async () => {
    await expect(removeDatasetFiles(root, '..')).rejects.toThrow(/not a dataset id/);
    expect(fs.existsSync(root)).toBe(true);
  });
});
