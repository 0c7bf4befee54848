/**
 * The digits example (`examples/data/digits.csv`, 1797 rows, 64 grey levels scaled by 1/16, 10
 * classes) as the learning benchmarks use it: every third row TEST, the rest POOL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SPLIT, type SimulationInput } from '../src/ml/simulation-engine';

export const DIGITS_CSV = path.resolve(__dirname, '../../examples/data/digits.csv');

export type Digits = Pick<
  SimulationInput,
  'features' | 'rows' | 'dim' | 'classCount' | 'groundTruth' | 'split'
>;

export function digits(): Digits {
  const [header, ...lines] = fs.readFileSync(DIGITS_CSV, 'utf8').trim().split(/\r?\n/);
  const columns = header.split(',');
  const labelAt = columns.indexOf('label');
  const dim = columns.length - 1;
  const rows = lines.length;
  const features = new Float32Array(rows * dim);
  const groundTruth = new Int32Array(rows);
  const split = new Uint8Array(rows);
  lines.forEach((line, r) => {
    const cells = line.split(',');
    let i = 0;
    cells.forEach((cell, c) => {
      if (c === labelAt) groundTruth[r] = Number(cell);
      else features[r * dim + i++] = Number(cell) / 16;
    });
    split[r] = r % 3 === 2 ? SPLIT.TEST : SPLIT.POOL;
  });
  return { features, rows, dim, classCount: 10, groundTruth, split };
}
