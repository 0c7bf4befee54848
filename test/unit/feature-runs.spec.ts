import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readRuns } from '../../src/jobs/feature-segments';

// A warm round reads only the kept rows of a cached segment, straight into the chunk it scores:
// every kept row must arrive whole, in order, and no excluded row's bytes may take its place.
const ROW_BYTES = 16;
const OFFSET = 64;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-runs-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A file of `rows` rows after an `OFFSET`-byte header, each row's bytes all `row % 251`. */
async function fileOf(rows: number) {
  const bytes = new Uint8Array(OFFSET + rows * ROW_BYTES).fill(255);
  for (let r = 0; r < rows; r++)
    bytes.fill(r % 251, OFFSET + r * ROW_BYTES, OFFSET + (r + 1) * ROW_BYTES);
  const name = path.join(dir, 'rows.bin');
  fs.writeFileSync(name, bytes);
  return fsp.open(name, 'r');
}

/** The row numbers each ROW_BYTES slice of `into` came from (-1: mixed bytes). */
function rowsIn(into: Uint8Array): number[] {
  const out: number[] = [];
  for (let at = 0; at < into.length; at += ROW_BYTES) {
    const slice = into.subarray(at, at + ROW_BYTES);
    out.push(slice.every((b) => b === slice[0]) ? slice[0] : -1);
  }
  return out;
}

async function read(rows: number, kept: (r: number) => boolean, skipBytes: number) {
  const runs: number[] = [];
  const expected: number[] = [];
  for (let r = 0; r < rows; r++) {
    if (!kept(r)) continue;
    expected.push(r % 251);
    if (runs.length > 0 && runs[runs.length - 1] === r) runs[runs.length - 1] = r + 1;
    else runs.push(r, r + 1);
  }
  const file = await fileOf(rows);
  try {
    const into = new Uint8Array(expected.length * ROW_BYTES);
    await readRuns(file, into, runs, ROW_BYTES, OFFSET, new Uint8Array(skipBytes));
    return { got: rowsIn(into), expected };
  } finally {
    await file.close();
  }
}

describe('reading the kept rows of a cached segment', () => {
  it('reads every row when none is left out', async () => {
    const { got, expected } = await read(1000, () => true, 64);
    expect(got).toEqual(expected);
  });

  it('leaves out single rows, runs of rows, the first and the last row', async () => {
    const { got, expected } = await read(
      1000,
      (r) => r !== 0 && r !== 999 && r % 7 !== 3 && !(r >= 200 && r < 260),
      64 * ROW_BYTES,
    );
    expect(got).toEqual(expected);
  });

  it('starts a new read across a gap wider than the scratch buffer', async () => {
    const { got, expected } = await read(
      2000,
      (r) => r < 10 || (r >= 500 && r < 520) || r > 1990,
      4 * ROW_BYTES,
    );
    expect(got).toEqual(expected);
  });

  it('splits a stretch of more runs than one vectored read takes', async () => {
    // Every other row kept: 2,500 runs, beyond the buffers of one read.
    const { got, expected } = await read(5000, (r) => r % 2 === 0, ROW_BYTES);
    expect(got).toEqual(expected);
  });
});
