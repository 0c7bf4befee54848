import { BinaryCopyParser, parseBinaryCopy } from '../../../src/db/pool-reader';

interface Row {
  id: bigint;
  /** float32 values, or raw bytes for a malformed row, or null for NULL */
  features: Float32Array | Uint8Array | null;
}

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];

/** PostgreSQL's binary COPY format of `(id bigint, features bytea)`, built by hand. */
function encodeCopy(
  rows: Row[],
  options: { extension?: number[]; trailer?: boolean } = {},
): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(19);
  Buffer.from(SIGNATURE).copy(header);
  header.writeInt32BE(0, 11);
  header.writeInt32BE(options.extension?.length ?? 0, 15);
  parts.push(header, Buffer.from(options.extension ?? []));
  for (const row of rows) {
    const prefix = Buffer.alloc(2 + 4 + 8 + 4);
    prefix.writeInt16BE(2, 0);
    prefix.writeInt32BE(8, 2);
    prefix.writeBigInt64BE(row.id, 6);
    if (row.features === null) {
      prefix.writeInt32BE(-1, 14);
      parts.push(prefix);
      continue;
    }
    const bytes = Buffer.from(
      row.features.buffer,
      row.features.byteOffset,
      row.features.byteLength,
    );
    prefix.writeInt32BE(bytes.length, 14);
    parts.push(prefix, bytes);
  }
  if (options.trailer ?? true) parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

function target(rows: number, dim: number): { ids: BigInt64Array; features: Float32Array } {
  return { ids: new BigInt64Array(rows), features: new Float32Array(rows * dim) };
}

function bits(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

const DIM = 3;
const ROWS: Row[] = [
  { id: 1n, features: Float32Array.of(0.5, -1.25, 3) },
  // Ids past 2^53 and negative ones must survive, and so must every float32 bit pattern.
  { id: 9_007_199_254_740_993n, features: Float32Array.of(-0, 1e-45, Number.MAX_VALUE) },
  { id: -42n, features: new Float32Array(new Uint32Array([0x7fc00001, 0xff800000, 1]).buffer) },
  { id: 9_223_372_036_854_775_807n, features: Float32Array.of(1 / 3, 2 / 3, Math.PI) },
];
const EXPECTED_BITS = ROWS.flatMap((r) => bits(r.features as Float32Array));

describe('parseBinaryCopy', () => {
  it('reads ids and the exact float32 bits of every row', () => {
    const out = target(4, DIM);
    expect(parseBinaryCopy(encodeCopy(ROWS), DIM, out)).toBe(4);
    expect(Array.from(out.ids)).toEqual(ROWS.map((r) => r.id));
    expect(bits(out.features)).toEqual(EXPECTED_BITS);
  });

  it('skips a header extension', () => {
    const out = target(4, DIM);
    expect(parseBinaryCopy(encodeCopy(ROWS, { extension: [1, 2, 3, 4, 5] }), DIM, out)).toBe(4);
    expect(Array.from(out.ids)).toEqual(ROWS.map((r) => r.id));
  });

  it('reads an empty result as no rows', () => {
    expect(parseBinaryCopy(encodeCopy([]), DIM, target(0, DIM))).toBe(0);
  });

  it('leaves room it did not need untouched', () => {
    const out = target(10, DIM);
    out.features.fill(7);
    expect(parseBinaryCopy(encodeCopy(ROWS.slice(0, 2)), DIM, out)).toBe(2);
    expect(Array.from(out.features.subarray(2 * DIM))).toEqual(new Array(8 * DIM).fill(7));
  });

  it('refuses a vector of the wrong length, naming the item and the length expected', () => {
    const rows = [ROWS[0], { id: 77n, features: Float32Array.of(1, 2) }];
    expect(() => parseBinaryCopy(encodeCopy(rows), DIM, target(2, DIM))).toThrow(
      'item 77 has 8 bytes of features, expected 12 (3 float32 values)',
    );
  });

  it('refuses a vector whose bytes are not a whole number of floats', () => {
    const rows = [{ id: 5n, features: new Uint8Array(13) }];
    expect(() => parseBinaryCopy(encodeCopy(rows), DIM, target(1, DIM))).toThrow(
      'item 5 has 13 bytes of features, expected 12',
    );
  });

  it('refuses NULL features', () => {
    expect(() =>
      parseBinaryCopy(encodeCopy([{ id: 9n, features: null }]), DIM, target(1, DIM)),
    ).toThrow('item 9 has NULL features');
  });

  it('refuses data cut short', () => {
    const data = encodeCopy(ROWS, { trailer: false });
    expect(() => parseBinaryCopy(data, DIM, target(4, DIM))).toThrow(
      'ended before its end-of-data marker (after 4 rows)',
    );
    expect(() => parseBinaryCopy(data.subarray(0, 30), DIM, target(4, DIM))).toThrow(
      'ended before its end-of-data marker (after 0 rows)',
    );
    expect(() => parseBinaryCopy(data.subarray(0, 10), DIM, target(4, DIM))).toThrow(
      'ended in its header',
    );
  });

  it('refuses data that is not binary COPY', () => {
    expect(() => parseBinaryCopy(Buffer.alloc(40), DIM, target(4, DIM))).toThrow(
      'does not start with the PGCOPY signature',
    );
  });

  it('refuses more rows than there is room for', () => {
    expect(() => parseBinaryCopy(encodeCopy(ROWS), DIM, target(3, DIM))).toThrow(
      'more than the 3 rows expected',
    );
  });

  it('refuses rows of another column count', () => {
    const data = encodeCopy(ROWS.slice(0, 1));
    data.writeInt16BE(3, 19);
    expect(() => parseBinaryCopy(data, DIM, target(1, DIM))).toThrow('has 3 columns, expected 2');
  });

  it('refuses data after the end-of-data marker', () => {
    const data = Buffer.concat([encodeCopy(ROWS), Buffer.from([0])]);
    expect(() => parseBinaryCopy(data, DIM, target(4, DIM))).toThrow('goes on after');
  });
});

describe('BinaryCopyParser', () => {
  const data = encodeCopy(ROWS, { extension: [9, 9] });

  function parseInPieces(cuts: number[]): { ids: bigint[]; bits: number[]; rows: number } {
    const out = target(4, DIM);
    const parser = new BinaryCopyParser(DIM, out);
    let start = 0;
    for (const cut of [...cuts, data.length]) {
      parser.push(data.subarray(start, cut));
      start = cut;
    }
    return { rows: parser.end(), ids: Array.from(out.ids), bits: bits(out.features) };
  }

  const whole = { rows: 4, ids: ROWS.map((r) => r.id), bits: EXPECTED_BITS };

  it('gives the same rows however the stream is split in two', () => {
    for (let cut = 0; cut <= data.length; cut++) expect(parseInPieces([cut])).toEqual(whole);
  });

  it('gives the same rows from one-byte pieces', () => {
    expect(parseInPieces(Array.from({ length: data.length - 1 }, (_, i) => i + 1))).toEqual(whole);
  });

  it('gives the same rows from pieces split at three places', () => {
    for (let a = 1; a < data.length; a += 3) {
      for (let b = a; b < data.length; b += 5) {
        for (let c = b; c < data.length; c += 7) expect(parseInPieces([a, b, c])).toEqual(whole);
      }
    }
  });

  it('does not depend on the pieces staying unchanged after push', () => {
    const out = target(4, DIM);
    const parser = new BinaryCopyParser(DIM, out);
    const piece = Buffer.from(data);
    parser.push(piece.subarray(0, 50));
    piece.fill(0, 0, 50);
    parser.push(piece.subarray(50));
    expect(parser.end()).toBe(4);
    expect(bits(out.features)).toEqual(EXPECTED_BITS);
  });

  it('refuses a vector of the wrong length even when its row is split across pieces', () => {
    const bad = encodeCopy([ROWS[0], { id: 31n, features: Float32Array.of(1) }]);
    for (let cut = 1; cut < bad.length; cut++) {
      const parser = new BinaryCopyParser(DIM, target(2, DIM));
      expect(() => {
        parser.push(bad.subarray(0, cut));
        parser.push(bad.subarray(cut));
      }).toThrow('item 31 has 4 bytes of features, expected 12');
    }
  });

  it('refuses target arrays that disagree on the number of rows', () => {
    expect(
      () => new BinaryCopyParser(DIM, { ids: new BigInt64Array(2), features: new Float32Array(9) }),
    ).toThrow(RangeError);
  });
});
