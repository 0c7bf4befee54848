/**
 * Writes imported items by binary COPY (PostgreSQL): the rows are encoded here in PostgreSQL's
 * binary COPY format, which the server stores without parsing text (the INSERT of unnest()ed
 * arrays sent each vector as hex text and each payload as JSON text to parse).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { EntityManager } from 'typeorm';
import { COPY_IMPORTED_ITEMS } from './sql/items.sql';

const SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);
const FIELDS = 8;
const JSONB_VERSION = 1;

/** One imported item as COPY writes it. */
export interface ImportedItemRow {
  id: bigint;
  externalId: string;
  /** JSON text. */
  payload: string;
  features: Buffer;
  split: string;
  groundTruth: number | null;
}

/**
 * Encodes rows of `item (id, dataset_id, external_id, payload, features, split, origin,
 * ground_truth)` with origin IMPORTED, as one binary COPY stream.
 */
export function encodeImportedItems(datasetId: string, rows: ImportedItemRow[]): Buffer {
  const dataset = Buffer.from(datasetId.replace(/-/g, ''), 'hex');
  if (dataset.length !== 16) throw new TypeError(`not a uuid: ${datasetId}`);
  const origin = Buffer.from('IMPORTED');
  const texts = rows.map((r) => ({
    externalId: Buffer.from(r.externalId, 'utf8'),
    payload: Buffer.from(r.payload, 'utf8'),
    split: Buffer.from(r.split, 'utf8'),
  }));
  let size = SIGNATURE.length + 8 + 2;
  rows.forEach((r, i) => {
    const t = texts[i];
    size += 2 + FIELDS * 4 + 8 + 16 + t.externalId.length + 1 + t.payload.length;
    size += r.features.length + t.split.length + origin.length;
    size += r.groundTruth === null ? 0 : 2;
  });
  const out = Buffer.allocUnsafe(size);
  let at = SIGNATURE.copy(out, 0);
  at = out.writeInt32BE(0, at); // flags
  at = out.writeInt32BE(0, at); // header extension
  const field = (bytes: Buffer): void => {
    at = out.writeInt32BE(bytes.length, at);
    at += bytes.copy(out, at);
  };
  rows.forEach((r, i) => {
    const t = texts[i];
    at = out.writeInt16BE(FIELDS, at);
    at = out.writeInt32BE(8, at);
    at = out.writeBigInt64BE(r.id, at);
    field(dataset);
    field(t.externalId);
    at = out.writeInt32BE(t.payload.length + 1, at);
    at = out.writeUInt8(JSONB_VERSION, at);
    at += t.payload.copy(out, at);
    field(r.features);
    field(t.split);
    field(origin);
    if (r.groundTruth === null) at = out.writeInt32BE(-1, at);
    else {
      at = out.writeInt32BE(2, at);
      at = out.writeInt16BE(r.groundTruth, at);
    }
  });
  at = out.writeInt16BE(-1, at);
  if (at !== size) throw new Error(`binary COPY encoding wrote ${at} bytes, expected ${size}`);
  return out;
}

/** Sends encoded rows through COPY on the connection of `m`'s transaction (PostgreSQL only). */
export async function copyImportedItems(m: EntityManager, data: Buffer): Promise<void> {
  const client = (m.queryRunner as unknown as { databaseConnection?: PoolClient } | undefined)
    ?.databaseConnection;
  if (!client) throw new Error('copyImportedItems needs a transaction on PostgreSQL');
  await pipeline(Readable.from([data]), client.query(copyFrom(COPY_IMPORTED_ITEMS)));
}
