import { areaUnderLearningCurve, classificationMetrics } from '../../src/ml/classification-metrics';

/*
 * Six rows, four classes; class 3 occurs in neither the truth nor the predictions.
 *
 *   row  truth  probabilities             predicted  top confidence  p(truth)
 *   0    0      0.70 0.20 0.10 0          0 (right)  0.70            0.70
 *   1    0      0.40 0.50 0.10 0          1 (wrong)  0.50            0.40
 *   2    1      0.15 0.75 0.10 0          1 (right)  0.75            0.75
 *   3    1      0.25 0.30 0.45 0          2 (wrong)  0.45            0.30
 *   4    2      0.05 0.05 0.90 0          2 (right)  0.90            0.90
 *   5    0      0.62 0.28 0.10 0          0 (right)  0.62            0.62
 *
 * Confusion (row = truth, column = predicted):
 *   t0: 2 1 0 0     t1: 0 1 1 0     t2: 0 0 1 0     t3: 0 0 0 0
 * Accuracy = 4 / 6.
 * Class 0: TP 2, predicted 2, support 3 -> P = 1,   R = 2/3, F1 = 2(1)(2/3) / (5/3) = 0.8
 * Class 1: TP 1, predicted 2, support 2 -> P = 1/2, R = 1/2, F1 = 0.5
 * Class 2: TP 1, predicted 2, support 1 -> P = 1/2, R = 1,   F1 = 2(1/2)(1) / (3/2) = 2/3
 * Class 3: nothing -> zeros, left out of the macro average (scikit-learn, labels=None)
 * Macro-F1 = (0.8 + 0.5 + 2/3) / 3 = 0.655556
 * Log-loss = -(ln .7 + ln .4 + ln .75 + ln .3 + ln .9 + ln .62) / 6
 *          = (0.356675 + 0.916291 + 0.287682 + 1.203973 + 0.105361 + 0.478036) / 6 = 0.558003
 * ECE, bins of width 1/15 as (k/15, (k+1)/15]: 0.45 -> bin 6, 0.50 -> 7, 0.62 -> 9, 0.70 -> 10,
 * 0.75 -> 11, 0.90 -> 13, one row each, so each bin's gap is |correct - confidence|:
 *   (0.45 + 0.50 + 0.38 + 0.30 + 0.25 + 0.10) / 6 = 1.98 / 6 = 0.33
 */
const TRUTH = [0, 0, 1, 1, 2, 0];
const PROBABILITIES = Float32Array.from(
  [
    [0.7, 0.2, 0.1, 0],
    [0.4, 0.5, 0.1, 0],
    [0.15, 0.75, 0.1, 0],
    [0.25, 0.3, 0.45, 0],
    [0.05, 0.05, 0.9, 0],
    [0.62, 0.28, 0.1, 0],
  ].flat(),
);

describe('classificationMetrics', () => {
  const m = classificationMetrics(TRUTH, PROBABILITIES, 4);

  it('counts the confusion matrix with truth as rows and predictions as columns', () => {
    expect(m.confusion).toEqual([
      [2, 1, 0, 0],
      [0, 1, 1, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 0],
    ]);
    expect(m.rows).toBe(6);
    expect(m.accuracy).toBeCloseTo(4 / 6, 12);
  });

  it('gives per-class precision, recall, F1 and support as computed by hand', () => {
    const expected = [
      { precision: 1, recall: 2 / 3, f1: 0.8, support: 3 },
      { precision: 0.5, recall: 0.5, f1: 0.5, support: 2 },
      { precision: 0.5, recall: 1, f1: 2 / 3, support: 1 },
      { precision: 0, recall: 0, f1: 0, support: 0 },
    ];
    m.perClass.forEach((c, i) => {
      expect(c.precision).toBeCloseTo(expected[i].precision, 12);
      expect(c.recall).toBeCloseTo(expected[i].recall, 12);
      expect(c.f1).toBeCloseTo(expected[i].f1, 12);
      expect(c.support).toBe(expected[i].support);
    });
  });

  it('averages F1 over the classes present in the truth or the predictions', () => {
    expect(m.macroF1).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3, 12);
  });

  it('computes the log-loss of the true classes', () => {
    expect(m.logLoss).toBeCloseTo(0.558003, 5);
  });

  it('computes the expected calibration error over 15 equal-width bins', () => {
    expect(m.expectedCalibrationError).toBeCloseTo(0.33, 6);
    expect(m.calibrationBins).toHaveLength(15);
    const used = m.calibrationBins.flatMap((b, i) => (b.count > 0 ? [i] : []));
    expect(used).toEqual([6, 7, 9, 10, 11, 13]);
    expect(m.calibrationBins[9]).toMatchObject({ count: 1, accuracy: 1 });
    expect(m.calibrationBins[9].confidence).toBeCloseTo(0.62, 6);
    expect(m.calibrationBins[9].lower).toBeCloseTo(0.6, 12);
    expect(m.calibrationBins[9].upper).toBeCloseTo(2 / 3, 12);
  });

  it('weighs a bin by its rows: four rows at 0.9 confidence, three right, give ECE 0.15', () => {
    const p = Float32Array.from([0.9, 0.1, 0.9, 0.1, 0.1, 0.9, 0.9, 0.1]);
    const { expectedCalibrationError, calibrationBins } = classificationMetrics([0, 0, 1, 1], p, 2);
    // Rows 0, 1, 2 are right and row 3 (truth 1, predicted 0) is wrong: |0.75 - 0.9| = 0.15.
    expect(expectedCalibrationError).toBeCloseTo(0.15, 6);
    expect(calibrationBins[13].count).toBe(4);
  });

  it('clips a zero probability of the true class at 1e-15 in the log-loss', () => {
    const { logLoss } = classificationMetrics([1], Float32Array.of(1, 0), 2);
    expect(logLoss).toBeCloseTo(-Math.log(1e-15), 9);
  });

  it('predicts the lowest class index on a tie', () => {
    const { confusion } = classificationMetrics([1], [0.5, 0.5], 2);
    expect(confusion).toEqual([
      [0, 0],
      [1, 0],
    ]);
  });

  it('scores perfect predictions as accuracy 1, macro-F1 1 and no calibration error', () => {
    const r = classificationMetrics([0, 1, 2], [1, 0, 0, 0, 1, 0, 0, 0, 1], 3);
    expect(r.accuracy).toBe(1);
    expect(r.macroF1).toBe(1);
    expect(r.logLoss).toBeCloseTo(0, 12);
    expect(r.expectedCalibrationError).toBe(0);
  });

  it('refuses inputs that do not add up', () => {
    expect(() => classificationMetrics([], [], 2)).toThrow('at least one row');
    expect(() => classificationMetrics([0, 1], [1, 0, 0], 2)).toThrow(
      'probabilities has 3 values, expected rows x classCount = 4',
    );
    expect(() => classificationMetrics([2], [1, 0], 2)).toThrow('truth[0] is 2');
    expect(() => classificationMetrics([0], [NaN, 0], 2)).toThrow(
      'the probability of class 0 in row 0 is NaN',
    );
  });
});

describe('areaUnderLearningCurve', () => {
  it('is the trapezoid area divided by the range of label counts', () => {
    // 10 * (0.5 + 0.7) / 2 + 20 * (0.7 + 0.8) / 2 = 6 + 15 = 21, over 40 - 10 = 30 labels.
    const points = [
      { labels: 10, accuracy: 0.5 },
      { labels: 20, accuracy: 0.7 },
      { labels: 40, accuracy: 0.8 },
    ];
    expect(areaUnderLearningCurve(points)).toBeCloseTo(0.7, 12);
    expect(areaUnderLearningCurve([...points].reverse())).toBeCloseTo(0.7, 12);
  });

  it('averages points at the same label count', () => {
    expect(
      areaUnderLearningCurve([
        { labels: 10, accuracy: 0.4 },
        { labels: 20, accuracy: 0.7 },
        { labels: 10, accuracy: 0.6 },
        { labels: 40, accuracy: 0.8 },
      ]),
    ).toBeCloseTo(0.7, 12);
  });

  it('gives the accuracy of a single label count, and 1 for a curve perfect throughout', () => {
    expect(areaUnderLearningCurve([{ labels: 50, accuracy: 0.8 }])).toBe(0.8);
    expect(
      areaUnderLearningCurve([
        { labels: 0, accuracy: 1 },
        { labels: 100, accuracy: 1 },
      ]),
    ).toBe(1);
  });

  it('refuses no points and non-finite or negative values', () => {
    expect(() => areaUnderLearningCurve([])).toThrow('at least one point');
    expect(() => areaUnderLearningCurve([{ labels: -1, accuracy: 0.5 }])).toThrow(
      'points[0].labels is -1',
    );
    expect(() => areaUnderLearningCurve([{ labels: 1, accuracy: NaN }])).toThrow(
      'points[0].accuracy is NaN',
    );
  });
});
