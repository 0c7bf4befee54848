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
