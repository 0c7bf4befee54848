import fs from 'node:fs';
import path from 'node:path';

export const DIGITS_CSV = path.resolve(__dirname, '../../../examples/data/digits.csv');
export const DIGIT_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** The digits example: 1797 rows of 64 grey levels (0..16) and a label. */
export function loadDigits(): { features: number[][]; labels: string[] } {
  const [header, ...lines] = fs.readFileSync(DIGITS_CSV, 'utf8').trim().split(/\r?\n/);
  const labelAt = header.split(',').indexOf('label');
  const features: number[][] = [];
  const labels: string[] = [];
  for (const line of lines) {
    const cells = line.split(',');
    labels.push(cells[labelAt]);
    features.push(cells.filter((_, i) => i !== labelAt).map(Number));
  }
  return { features, labels };
}

/** Base64 of little-endian float32, as `importItems` takes it. */
export function f32base64(values: ArrayLike<number>): string {
  return Buffer.from(new Float32Array(Array.from(values)).buffer).toString('base64');
}

/**
 * The digits example as a simulation's arrays: features scaled by 1/16 (as the data's README
 * does), class index = the digit, and a deterministic split: every third row (row % 3 === 2)
 * TEST, the rest POOL (1198 POOL, 599 TEST rows).
 */
export function digitsSimulationData(): {
  features: Float32Array;
  rows: number;
  dim: number;
  classCount: number;
  groundTruth: Int32Array;
  split: Uint8Array;
} {
  const { features, labels } = loadDigits();
  const rows = features.length;
  const dim = features[0].length;
  const flat = new Float32Array(rows * dim);
  features.forEach((row, r) => row.forEach((v, i) => (flat[r * dim + i] = v / 16)));
  return {
    features: flat,
    rows,
    dim,
    classCount: DIGIT_CLASSES.length,
    groundTruth: Int32Array.from(labels, (l) => DIGIT_CLASSES.indexOf(l)),
    split: Uint8Array.from({ length: rows }, (_, r) => (r % 3 === 2 ? 2 : 0)),
  };
}
