import {
  precisionAtThreshold,
  thresholdForPrecision,
  wilsonInterval,
  Z_95,
} from '../../src/ml/auto-label-stats';

/**
 * Ten validation items, most confident first. Precision at or above each confidence:
 *
 * | confidence | 0.99 | 0.95 | 0.93 | 0.90 | 0.88 | 0.85 | 0.80 | 0.75 | 0.70 | 0.60 |
 * | correct    |  yes |  yes |   no |  yes |  yes |  yes |   no |  yes |   no |   no |
 * | at or above|  1/1 |  2/2 |  2/3 |  3/4 |  4/5 |  5/6 |  5/7 |  6/8 |  6/9 | 6/10 |
 */
const table = {
  confidences: [0.6, 0.99, 0.85, 0.93, 0.7, 0.95, 0.88, 0.8, 0.9, 0.75],
  correct: [false, true, true, false, false, true, true, false, true, true],
};

describe('wilsonInterval', () => {
  it('gives [0.4902, 0.9433] for 8 successes in 10', () => {
    const w = wilsonInterval(8, 10);
    expect(w.estimate).toBe(0.8);
    expect(w.lower).toBeCloseTo(0.4902, 4);
    expect(w.upper).toBeCloseTo(0.9433, 4);
  });

  it('gives [0, 1] and no estimate when nothing was measured', () => {
    expect(wilsonInterval(0, 0)).toEqual({
      successes: 0,
      n: 0,
      estimate: null,
      lower: 0,
      upper: 1,
    });
  });

  it('is exact at 0 and n successes: [0, z²/(n+z²)] and [n/(n+z²), 1]', () => {
    const z2 = Z_95 * Z_95;
    const none = wilsonInterval(0, 10);
    expect(none.lower).toBe(0);
    expect(none.upper).toBeCloseTo(z2 / (10 + z2), 12);
    expect(none.upper).toBeCloseTo(0.2775, 4);
    const all = wilsonInterval(10, 10);
    expect(all.upper).toBe(1);
    expect(all.lower).toBeCloseTo(10 / (10 + z2), 12);
  });

  it('narrows as n grows and widens with z', () => {
    const width = (s: number, n: number, z?: number) => {
      const w = wilsonInterval(s, n, z);
      return w.upper - w.lower;
    };
    expect(width(80, 100)).toBeLessThan(width(8, 10));
    expect(width(8, 10, 2.575829)).toBeGreaterThan(width(8, 10));
    // 80/100 by hand: center 0.7889, half-width 0.0777.
    const w = wilsonInterval(80, 100);
    expect(w.lower).toBeCloseTo(0.7112, 4);
    expect(w.upper).toBeCloseTo(0.8666, 4);
  });

  it('refuses counts that are not counts', () => {
    expect(() => wilsonInterval(11, 10)).toThrow(/successes must be an integer from 0 to n \(10\)/);
    expect(() => wilsonInterval(1.5, 10)).toThrow(RangeError);
    expect(() => wilsonInterval(0, -1)).toThrow(/n must be a non-negative integer/);
    expect(() => wilsonInterval(1, 2, 0)).toThrow(/z must be a finite number > 0/);
  });
});

describe('precisionAtThreshold', () => {
  it('counts the items at or above the threshold', () => {
    const p = precisionAtThreshold(table.confidences, table.correct, 0.85);
    expect(p).toMatchObject({ threshold: 0.85, count: 6, correct: 5, coverage: 0.6 });
    expect(p.precision).toBeCloseTo(5 / 6, 12);
    const w = wilsonInterval(5, 6);
    expect(p.interval).toEqual({ lower: w.lower, upper: w.upper });
  });

  it('has no precision above every item', () => {
    expect(precisionAtThreshold(table.confidences, table.correct, 0.995)).toEqual({
      threshold: 0.995,
      count: 0,
      correct: 0,
      precision: null,
      coverage: 0,
      interval: { lower: 0, upper: 1 },
    });
  });

  it('takes 0/1 flags as well as booleans', () => {
    const flags = Uint8Array.from(table.correct, (c) => (c ? 1 : 0));
    expect(precisionAtThreshold(table.confidences, flags, 0.7)).toEqual(
      precisionAtThreshold(table.confidences, table.correct, 0.7),
    );
  });
});

describe('thresholdForPrecision', () => {
  const choose = (target: number, minCount: number, criterion?: 'estimate' | 'lower-bound') =>
    thresholdForPrecision(table.confidences, table.correct, target, minCount, { criterion });

  it('chooses the lowest threshold whose precision reaches the target', () => {
    // 0.88 (4/5) and 0.85 (5/6) reach 0.8; 0.80 (5/7) does not.
    const choice = choose(0.8, 3);
    expect(choice).toMatchObject({
      status: 'FOUND',
      threshold: 0.85,
      count: 6,
      correct: 5,
      coverage: 0.6,
    });
    // A precision that only just reaches the target counts.
    expect(choose(0.75, 3)).toMatchObject({ status: 'FOUND', threshold: 0.75, count: 8 });
  });

  it('never rests a threshold on fewer than minCount items', () => {
    // 0.95 has precision 2/2, but only two items support it.
    expect(choose(0.9, 2)).toMatchObject({ status: 'FOUND', threshold: 0.95, coverage: 0.2 });
    const choice = choose(0.9, 3);
    expect(choice.status).toBe('UNREACHABLE');
    if (choice.status !== 'UNREACHABLE') throw new Error('unreachable expected');
    expect(choice.best).toMatchObject({ threshold: 0.85, count: 6, correct: 5 });
    expect(choice.message).toBe(
      'No threshold supported by at least 3 validation items reaches a precision of 0.9; the best is 0.8333 at threshold 0.85 (6 items). Lower the target or label more validation items.',
    );
  });

  it('says there are too few validation labels when fewer than minCount exist', () => {
    expect(choose(0.8, 11)).toEqual({
      status: 'TOO_FEW_LABELS',
      total: 10,
      minCount: 11,
      message:
        'Too few validation labels: a threshold must rest on at least 11 labelled validation items, and there are 10. Label 1 more validation item.',
    });
    expect(thresholdForPrecision([], [], 0.9, 1)).toMatchObject({
      status: 'TOO_FEW_LABELS',
      total: 0,
    });
  });

  it('keeps items of equal confidence together', () => {
    // At 0.9 both tied items are in (1/2); at 0.8 all are (2/3): no threshold reaches 1.
    const choice = thresholdForPrecision([0.9, 0.9, 0.8], [true, false, true], 1, 1);
    expect(choice).toMatchObject({ status: 'UNREACHABLE', best: { threshold: 0.8, count: 3 } });
    expect(precisionAtThreshold([0.9, 0.9, 0.8], [true, false, true], 0.9).precision).toBe(0.5);
  });

  it('is more cautious on the lower bound of the interval', () => {
    const many = {
      confidences: Array.from({ length: 200 }, (_, i) => 1 - i / 400),
      // Right on 49 of each 50 in the top half, on 1 of 2 below.
      correct: Array.from({ length: 200 }, (_, i) => (i < 100 ? i % 50 !== 25 : i % 2 === 0)),
    };
    const byEstimate = thresholdForPrecision(many.confidences, many.correct, 0.9, 30);
    const byBound = thresholdForPrecision(many.confidences, many.correct, 0.9, 30, {
      criterion: 'lower-bound',
    });
    if (byEstimate.status !== 'FOUND' || byBound.status !== 'FOUND') throw new Error('not found');
    expect(byBound.threshold).toBeGreaterThan(byEstimate.threshold);
    expect(byBound.interval.lower).toBeGreaterThanOrEqual(0.9);
    expect(byEstimate.precision).toBeGreaterThanOrEqual(0.9);
    expect(byEstimate.interval.lower).toBeLessThan(0.9);
  });

  it('refuses arguments that make no sense', () => {
    expect(() => thresholdForPrecision([0.5], [true, false], 0.9, 1)).toThrow(
      /one entry per validation item; got 1 and 2/,
    );
    expect(() => thresholdForPrecision([Number.NaN], [true], 0.9, 1)).toThrow(
      /confidences\[0\] must be a finite number/,
    );
    expect(() => choose(0, 1)).toThrow(/target must be a precision in \(0, 1\]/);
    expect(() => choose(1.1, 1)).toThrow(RangeError);
    expect(() => choose(0.9, 0)).toThrow(/minCount must be an integer >= 1/);
  });
});
