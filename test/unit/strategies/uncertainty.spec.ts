import {
  entropyStrategy,
  leastConfidence,
  margin,
} from '../../../src/strategies/builtin/uncertainty';
import { pool, ranking, scores } from './helpers';

/*
 * Dyadic probabilities, exact in float32, so ties are exact:
 *            p                      max   1-max   top-2 gap
 * row 0  [0.5,   0.25,  0.25 ]      0.5   0.5     0.25
 * row 1  [0.375, 0.375, 0.25 ]      0.375 0.625   0       (classes 0 and 1 tie: 0 is predicted)
 * row 2  [0.25,  0.625, 0.125]      0.625 0.375   0.375
 * row 3  [0.75,  0.125, 0.125]      0.75  0.25    0.625
 * row 4  [0.25,  0.25,  0.5  ]      0.5   0.5     0.25
 * row 5  [0.5,   0.375, 0.125]      0.5   0.5     0.125
 */
const rows = pool({
  probabilities: [
    [0.5, 0.25, 0.25],
    [0.375, 0.375, 0.25],
    [0.25, 0.625, 0.125],
    [0.75, 0.125, 0.125],
    [0.25, 0.25, 0.5],
    [0.5, 0.375, 0.125],
  ],
});

describe('least-confidence', () => {
  it('scores 1 - max p', () => {
    expect(Array.from(scores(leastConfidence, rows))).toEqual([0.5, 0.625, 0.375, 0.25, 0.5, 0.5]);
  });

  it('ranks the least confident first, ties (rows 0, 4, 5 at 0.5) by lower index', () => {
    expect(ranking(leastConfidence, rows)).toEqual([1, 0, 4, 5, 2, 3]);
  });

  it('explains a row by its confidence and predicted class', () => {
    expect(leastConfidence.reason(rows, 2, {})).toEqual({ confidence: 0.625, predictedClass: 1 });
    expect(leastConfidence.reason(rows, 1, {})).toEqual({ confidence: 0.375, predictedClass: 0 });
  });
});

describe('margin', () => {
  it('scores the negated gap between the two most probable classes', () => {
    expect(Array.from(scores(margin, rows))).toEqual([-0.25, 0, -0.375, -0.625, -0.25, -0.125]);
  });

  it('picks the smallest top-2 gaps in order, ties (rows 0 and 4 at 0.25) by lower index', () => {
    // gaps: row1 0, row5 0.125, row0 0.25, row4 0.25, row2 0.375, row3 0.625
    expect(ranking(margin, rows)).toEqual([1, 5, 0, 4, 2, 3]);
    expect(ranking(margin, rows, 3)).toEqual([1, 5, 0]);
  });

  it('explains a row by its margin, predicted and second class', () => {
    expect(margin.reason(rows, 1, {})).toEqual({ margin: 0, predictedClass: 0, secondClass: 1 });
    expect(margin.reason(rows, 4, {})).toEqual({ margin: 0.25, predictedClass: 2, secondClass: 0 });
  });
});

describe('entropy', () => {
  it('scores the Shannon entropy in nats', () => {
    const s = scores(entropyStrategy, rows);
    // row 0: 0.5 ln 2 + 2 x 0.25 ln 4 = 1.5 ln 2 = 1.03972
    expect(s[0]).toBeCloseTo(1.5 * Math.LN2, 12);
    // row 1: 2 x 0.375 ln(8/3) + 0.25 ln 4 = 0.73562 + 0.34657 = 1.08219
    expect(s[1]).toBeCloseTo(0.75 * Math.log(8 / 3) + 0.25 * Math.log(4), 12);
    // row 2: 0.25 ln 4 + 0.625 ln 1.6 + 0.125 ln 8 = 0.34657 + 0.29375 + 0.25993 = 0.90026
    expect(s[2]).toBeCloseTo(0.25 * Math.log(4) + 0.625 * Math.log(1.6) + 0.125 * Math.log(8), 12);
    // row 3: 0.75 ln(4/3) + 2 x 0.125 ln 8 = 0.21576 + 0.51986 = 0.73562
    expect(s[3]).toBeCloseTo(0.75 * Math.log(4 / 3) + 0.25 * Math.log(8), 12);
    // row 5: 0.5 ln 2 + 0.375 ln(8/3) + 0.125 ln 8 = 0.34657 + 0.36781 + 0.25993 = 0.97431
    expect(s[5]).toBeCloseTo(0.5 * Math.LN2 + 0.375 * Math.log(8 / 3) + 0.125 * Math.log(8), 12);
  });

  it('ranks the most uncertain first', () => {
    const order = ranking(entropyStrategy, rows);
    expect(order[0]).toBe(1);
    expect(new Set(order.slice(1, 3))).toEqual(new Set([0, 4])); // both 1.5 ln 2
    expect(order.slice(3)).toEqual([5, 2, 3]);
  });

  it('explains a row by its entropy and predicted class', () => {
    const reason = entropyStrategy.reason(rows, 4, {});
    expect(reason.predictedClass).toBe(2);
    expect(reason.entropy).toBeCloseTo(1.5 * Math.LN2, 12);
  });

  it('treats 0 x log 0 as 0', () => {
    const certain = pool({ probabilities: [[1, 0, 0]] });
    expect(Array.from(scores(entropyStrategy, certain))).toEqual([0]);
  });
});

describe('uncertainty scores', () => {
  it('break ties between identical rows by the lower index', () => {
    const same = pool({
      probabilities: [
        [0.9, 0.1],
        [0.6, 0.4],
        [0.8, 0.2],
        [0.6, 0.4],
      ],
    });
    for (const strategy of [leastConfidence, margin, entropyStrategy]) {
      expect(ranking(strategy, same, 2)).toEqual([1, 3]);
    }
  });

  it('give a single-class model a certain score', () => {
    const single = pool({ probabilities: [[1], [1]] });
    expect(Array.from(scores(leastConfidence, single))).toEqual([0, 0]);
    expect(Array.from(scores(margin, single))).toEqual([-1, -1]);
    expect(Array.from(scores(entropyStrategy, single))).toEqual([0, 0]);
    expect(margin.reason(single, 0, {})).toEqual({ margin: 1, predictedClass: 0, secondClass: -1 });
  });

  it('fail with a message naming the strategy when probabilities are missing', () => {
    expect(() => scores(margin, pool({ embeddings: [[1, 2]] }))).toThrow(
      /"margin" needs PROBABILITIES/,
    );
  });
});
