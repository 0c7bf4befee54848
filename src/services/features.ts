import os from 'node:os';

if (os.endianness() !== 'LE') {
  // Vectors are stored as little-endian float32 and viewed as Float32Array without conversion.
  throw new Error('Quarry needs a little-endian machine.');
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Why a vector was refused, or null when it is fine. */
export type VectorProblem = string | null;

/** Feature vectors of one batch, decoded into one contiguous float32 block. */
export class FeatureBlock {
  readonly data: Float32Array;
  constructor(
    readonly rows: number,
    readonly dim: number,
  ) {
    this.data = new Float32Array(rows * dim);
  }

  /** Stores row `i` from a list of numbers; returns why it was refused, if it was. */
  setFromList(i: number, values: readonly number[]): VectorProblem {
    if (values.length !== this.dim) {
      return `has ${values.length} values, expected ${this.dim}`;
    }
    const row = this.data.subarray(i * this.dim, (i + 1) * this.dim);
    row.set(values);
    return checkFinite(row, values);
  }

  /** Stores row `i` from base64 of little-endian float32; returns why it was refused, if it was. */
  setFromBase64(i: number, b64: string): VectorProblem {
    const expectedBytes = this.dim * 4;
    if (!BASE64_RE.test(b64)) return base64Problem(b64);
    const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
    const bytes = (b64.length / 4) * 3 - padding;
    if (bytes !== expectedBytes) {
      const values =
        bytes % 4 === 0 ? `${bytes / 4} float32 values` : 'not a whole number of float32 values';
      return `decodes to ${bytes} bytes (${values}), expected ${expectedBytes} bytes (${this.dim} values)`;
    }
    const target = Buffer.from(this.data.buffer, i * expectedBytes, expectedBytes);
    const written = target.write(b64, 'base64');
    if (written !== expectedBytes) {
      return `decodes to ${written} bytes, expected ${expectedBytes}`;
    }
    return checkFinite(this.data.subarray(i * this.dim, (i + 1) * this.dim));
  }

  /** Row `i` as bytes for storage (a view, no copy). */
  rowBytes(i: number): Buffer {
    return Buffer.from(this.data.buffer, i * this.dim * 4, this.dim * 4);
  }
}

/** Why a string that is not padded standard base64 was refused, with the fix when it is plain. */
function base64Problem(b64: string): string {
  if (/^[A-Za-z0-9+/]+$/.test(b64) && b64.length % 4 !== 1) {
    return `is not valid base64: its length (${b64.length}) is not a multiple of 4; add the "=" padding`;
  }
  if (/^[A-Za-z0-9_-]+=*$/.test(b64) && /[-_]/.test(b64)) {
    return 'is not valid base64: it uses the base64url alphabet ("-" and "_"); send standard base64 ("+" and "/")';
  }
  return 'is not valid base64';
}

function checkFinite(row: Float32Array, source?: readonly number[]): VectorProblem {
  for (let j = 0; j < row.length; j++) {
    if (!Number.isFinite(row[j])) {
      if (source && Number.isFinite(source[j])) {
        return `value ${j} (${source[j]}) is outside the float32 range`;
      }
      return `value ${j} is ${row[j]} (only finite numbers are allowed)`;
    }
  }
  return null;
}

/** Decodes stored float32 bytes into numbers. */
export function bytesToFloats(bytes: Buffer): number[] {
  const copy = new Float32Array(bytes.length / 4);
  new Uint8Array(copy.buffer).set(bytes);
  return Array.from(copy);
}

/**
 * Stored feature vectors (little-endian float32 bytes, `dim` wide) packed row after row into one
 * Float32Array, as training, evaluation and simulation take them.
 */
export function packFeatures(rows: readonly { features: Buffer }[], dim: number): Float32Array {
  const out = new Float32Array(rows.length * dim);
  const bytes = new Uint8Array(out.buffer);
  rows.forEach((r, i) => {
    if (r.features.length !== dim * 4) {
      throw new Error(`row ${i} has ${r.features.length} feature bytes, expected ${dim * 4}`);
    }
    bytes.set(r.features, i * dim * 4);
  });
  return out;
}
