import { bytesToFloats, FeatureBlock } from '../../src/services/features';

/** Base64 of little-endian float32, as clients send it. */
function f32base64(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}

function row(block: FeatureBlock, i: number): number[] {
  return Array.from(block.data.subarray(i * block.dim, (i + 1) * block.dim));
}

describe('FeatureBlock', () => {
  describe('from a list of numbers', () => {
    it('stores each row in its place, rounded to float32', () => {
      const block = new FeatureBlock(2, 3);
      expect(block.setFromList(1, [0.1, -2, 3e30])).toBeNull();
      expect(block.setFromList(0, [1, 2, 3])).toBeNull();
      expect(row(block, 0)).toEqual([1, 2, 3]);
      expect(row(block, 1)).toEqual([Math.fround(0.1), -2, Math.fround(3e30)]);
    });

    it.each([
      [[1, 2], 'has 2 values, expected 3'],
      [[1, 2, 3, 4], 'has 4 values, expected 3'],
      [[], 'has 0 values, expected 3'],
    ])('refuses %j as the wrong length', (values, message) => {
      expect(new FeatureBlock(1, 3).setFromList(0, values)).toBe(message);
    });

    it.each([
      [[1, NaN, 3], 'value 1 is NaN (only finite numbers are allowed)'],
      [[Infinity, 2, 3], 'value 0 is Infinity (only finite numbers are allowed)'],
      [[1, 2, -Infinity], 'value 2 is -Infinity (only finite numbers are allowed)'],
    ])('refuses %j, naming the value that is not finite', (values, message) => {
      expect(new FeatureBlock(1, 3).setFromList(0, values)).toBe(message);
    });

    it.each([
      [[1e39, 2, 3], 'value 0 (1e+39) is outside the float32 range'],
      [[1, -4e38, 3], 'value 1 (-4e+38) is outside the float32 range'],
    ])('refuses %j, whose value overflows float32, and says so', (values, message) => {
      expect(new FeatureBlock(1, 3).setFromList(0, values)).toBe(message);
    });

    it('keeps the largest float32 values', () => {
      const max = 3.4028234663852886e38;
      const block = new FeatureBlock(1, 2);
      expect(block.setFromList(0, [max, -max])).toBeNull();
      expect(row(block, 0)).toEqual([max, -max]);
    });
  });

  describe('from base64', () => {
    it('decodes little-endian float32 bit-exact into the right row', () => {
      const values = [0.1, -0, 1.5e-40, 65504];
      const block = new FeatureBlock(3, 4);
      expect(block.setFromBase64(2, f32base64(values))).toBeNull();
      expect(row(block, 2)).toEqual(Array.from(new Float32Array(values)));
      expect(Object.is(row(block, 2)[1], -0)).toBe(true);
      expect(row(block, 0)).toEqual([0, 0, 0, 0]);
      expect(row(block, 1)).toEqual([0, 0, 0, 0]);
    });

    it.each([
      [2, 'padded with "="', [1, 2]],
      [3, 'with no padding', [1, 2, 3]],
      [1, 'padded with "=="', [1]],
    ])('accepts %i values %s', (dim, _how, values) => {
      const block = new FeatureBlock(1, dim);
      expect(block.setFromBase64(0, f32base64(values))).toBeNull();
      expect(row(block, 0)).toEqual(values);
    });

    it.each([
      [[1, 2, 3, 4], 'decodes to 16 bytes (4 float32 values), expected 12 bytes (3 values)'],
      [[1, 2], 'decodes to 8 bytes (2 float32 values), expected 12 bytes (3 values)'],
      [[], 'decodes to 0 bytes (0 float32 values), expected 12 bytes (3 values)'],
    ])('refuses base64 of %j as the wrong length', (values, message) => {
      expect(new FeatureBlock(1, 3).setFromBase64(0, f32base64(values))).toBe(message);
    });

    it('says when the bytes are not a whole number of float32 values', () => {
      const b64 = Buffer.alloc(10).toString('base64');
      expect(new FeatureBlock(1, 3).setFromBase64(0, b64)).toBe(
        'decodes to 10 bytes (not a whole number of float32 values), expected 12 bytes (3 values)',
      );
    });

    it.each([
      [[1, NaN, 3], 'value 1 is NaN (only finite numbers are allowed)'],
      [[1, 2, Infinity], 'value 2 is Infinity (only finite numbers are allowed)'],
      [[-Infinity, 2, 3], 'value 0 is -Infinity (only finite numbers are allowed)'],
    ])('refuses base64 of %j, naming the value that is not finite', (values, message) => {
      expect(new FeatureBlock(1, 3).setFromBase64(0, f32base64(values))).toBe(message);
    });

    it.each([
      ['symbols', '!!!!!!!!!!!!!!!!'],
      ['a space', 'AACAPwAAAEAAAEBA AAAA'],
      ['padding in the middle', 'AA==AAAAAAAAAAAA'],
      ['an impossible length', 'AACAPwAAAEAAAEBAA'],
    ])('refuses a string with %s as not valid base64', (_what, b64) => {
      expect(new FeatureBlock(1, 3).setFromBase64(0, b64)).toBe('is not valid base64');
    });

    it('tells a client that left out the padding to add it', () => {
      const unpadded = f32base64([1, 2]).replace(/=+$/, '');
      expect(unpadded).toHaveLength(11);
      expect(new FeatureBlock(1, 2).setFromBase64(0, unpadded)).toBe(
        'is not valid base64: its length (11) is not a multiple of 4; add the "=" padding',
      );
    });

    it('tells a client that sent base64url to send standard base64', () => {
      const url = Buffer.from(new Float32Array([-1.5e-10, 7e22, 2]).buffer).toString('base64url');
      expect(url).toMatch(/[-_]/);
      expect(new FeatureBlock(1, 3).setFromBase64(0, url)).toBe(
        'is not valid base64: it uses the base64url alphabet ("-" and "_"); send standard base64 ("+" and "/")',
      );
    });
  });

  describe('rowBytes', () => {
    it('gives each row as its little-endian float32 bytes', () => {
      const block = new FeatureBlock(2, 2);
      block.setFromList(0, [1, 2]);
      block.setFromList(1, [-3, 0.25]);
      expect(block.rowBytes(0).toString('base64')).toBe(f32base64([1, 2]));
      expect(block.rowBytes(1).toString('base64')).toBe(f32base64([-3, 0.25]));
      expect(block.rowBytes(1)).toHaveLength(8);
    });

    it('is a view of the block, not a copy', () => {
      const block = new FeatureBlock(2, 2);
      const bytes = block.rowBytes(1);
      block.setFromList(1, [5, 6]);
      expect(bytes.toString('base64')).toBe(f32base64([5, 6]));
      expect(bytes.buffer).toBe(block.data.buffer);
    });
  });
});

describe('bytesToFloats', () => {
  it('gives back the numbers stored as float32 bytes', () => {
    const values = [1, -0.5, 3.25, 1e-7];
    const bytes = Buffer.from(new Float32Array(values).buffer);
    expect(bytesToFloats(bytes)).toEqual(Array.from(new Float32Array(values)));
  });

  it('reads bytes that do not start on a 4-byte boundary', () => {
    const stored = Buffer.from(new Float32Array([7, 8, 9]).buffer);
    const unaligned = Buffer.concat([Buffer.from([0xff]), stored]).subarray(1);
    expect(unaligned.byteOffset % 4).not.toBe(0);
    expect(bytesToFloats(unaligned)).toEqual([7, 8, 9]);
  });

  it('gives an empty list for no bytes', () => {
    expect(bytesToFloats(Buffer.alloc(0))).toEqual([]);
  });
});
