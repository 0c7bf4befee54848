/**
 * Housekeeping of the feature cache (see `feature-cache.ts`): compaction of a dataset's segments
 * into one, and removal of the files of datasets that no longer exist.
 *
 * Compaction writes the new segment like any other (a temporary file renamed into place), then
 * removes the segments it replaces. A reader never meets a half-written file: a process that
 * opened the old segments keeps reading them (an open file outlives its name), and one that lists
 * the directory between the rename and the removals finds the compacted segment overlapping the
 * old ones and keeps the widest (`openSegments`).
 *
 * Removal: a dataset's directory is marked with the identity of the database it belongs to
 * (`owner`), because several databases may share one cache directory (the default is one per
 * machine). A sweep removes only directories marked by this database whose dataset is gone.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Database } from '../db/database';
import { databaseIdentity, existingDatasetIds } from '../db/sql/datasets.sql';
import { run } from '../db/sql/statement';
import { logger } from '../logger';
import {
  bytesOf,
  closeAll,
  HEADER_BYTES,
  readExactly,
  SegmentWriter,
  type Segment,
  type SegmentHeader,
} from './feature-segments';

/** The file in a dataset's cache directory that names the database the dataset belongs to. */
export const OWNER_FILE = 'owner';
/** Segments of one dataset beyond which they are compacted into one (each round may add one). */
export const DEFAULT_MAX_SEGMENTS = 8;
/** Rows read from the old segments at a time while compacting. */
const COMPACT_ROWS = 65_536;
const UUID_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** This database's identity, as dataset directories are marked with. */
export async function cacheOwner(db: Database): Promise<string> {
  const [row] = await run<{ id: string }>(db.ds, databaseIdentity());
  return row.id;
}

/** Marks `dir` (a dataset's directory) as `owner`'s, unless it already is. */
export async function markOwner(dir: string, owner: string): Promise<void> {
  const file = path.join(dir, OWNER_FILE);
  const current = await fsp.readFile(file, 'utf8').catch(() => undefined);
  if (current === owner) return;
  const temp = path.join(dir, `.${process.pid}-${crypto.randomBytes(6).toString('hex')}.tmp`);
  await fsp.writeFile(temp, owner);
  await fsp.rename(temp, file);
}

/** Removes a dataset's cached files (all of them; nothing when there are none). */
export async function removeDatasetFiles(root: string, datasetId: string): Promise<void> {
  if (!UUID_NAME.test(datasetId)) throw new TypeError(`not a dataset id: ${datasetId}`);
  await fsp.rm(path.join(root, datasetId), { recursive: true, force: true });
}

/**
 * Removes the cached files of this database's datasets that no longer exist; returns their ids.
 * Directories of other databases, or not marked, are left alone.
 */
export async function sweepFeatureCache(root: string, db: Database): Promise<string[]> {
  const names = (await fsp.readdir(root).catch(() => [] as string[])).filter((n) =>
    UUID_NAME.test(n),
  );
  if (names.length === 0) return [];
  const owner = await cacheOwner(db);
  const ours: string[] = [];
  for (const name of names) {
    const marked = await fsp.readFile(path.join(root, name, OWNER_FILE), 'utf8').catch(() => '');
    if (marked === owner) ours.push(name);
  }
  if (ours.length === 0) return [];
  const existing = new Set(
    (await run<{ id: string }>(db.ds, existingDatasetIds(ours))).map((r) => String(r.id)),
  );
  const gone = ours.filter((id) => !existing.has(id));
  for (const id of gone) await removeDatasetFiles(root, id);
  if (gone.length > 0)
    logger.info({ datasets: gone }, 'removed the feature cache of deleted datasets');
  return gone;
}

/**
 * Rewrites `segments` (a dataset's whole, ordered chain) into one segment and removes the old
 * files; returns the new chain (one segment, open). The old segments are closed.
 */
export async function compactSegments(
  dir: string,
  segments: Segment[],
  expect: Pick<SegmentHeader, 'datasetId' | 'createdMs' | 'dim'>,
): Promise<Segment[]> {
  const writer = await SegmentWriter.create(dir, expect);
  let compacted: Segment | undefined;
  try {
    const dim = expect.dim;
    for (const s of segments) {
      for (let start = 0; start < s.header.rows; start += COMPACT_ROWS) {
        const rows = Math.min(COMPACT_ROWS, s.header.rows - start);
        const features = new Float32Array(rows * dim);
        await readExactly(s.file, bytesOf(features), HEADER_BYTES + start * dim * 4);
        await writer.add({ ids: s.ids.subarray(start, start + rows), features, rows, dim });
      }
    }
    compacted = await writer.commit();
  } catch (e) {
    await writer.discard();
    throw e;
  }
  if (!compacted) return segments;
  await closeAll(segments);
  for (const s of segments) {
    const name = `${s.header.firstId}-${s.header.lastId}.seg`;
    if (name !== compactedName(compacted)) {
      await fsp.rm(path.join(dir, name), { force: true });
    }
  }
  return [compacted];
}

function compactedName(s: Segment): string {
  return `${s.header.firstId}-${s.header.lastId}.seg`;
}
