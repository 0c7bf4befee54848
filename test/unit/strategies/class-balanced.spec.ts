import { classBalanced } from '../../../src/strategies/builtin/class-balanced';
import { argmax } from '../../../src/strategies/math';
import { indices, pool, randomPool, select } from './helpers';

/*
 *            p                  predicted  margin  1 - max p
 * row 0  [.5,   .25,  .25 ]     0          .25     .5
 * row 1  [.375, .375, .25 ]     0          0       .625
 * row 2  [.75,  .125, .125]     0          .625    .25
 * row 3  [.5,   .375, .125]     0          .125    .5
 * row 4  [.25,  .625, .125]     1          .375    .375
 * row 5  [.25,  .5,   .25 ]     1          .25     .5
 * row 6  [.125, .125, .75 ]     2          .625    .25
 * By margin, class 0 ranks 1, 3, 0, 2; class 1 ranks 5, 4; class 2 has row 6 only.
 * (Plain margin would take 1, 3, 0, 5, ...: three of class 0 before any other class.)
 */
const rows = pool({
  probabilities: [
    [0.5, 0.25, 0.25],
    [0.375, 0.375, 0.25],
    [0.75, 0.125, 0.125],
    [0.5, 0.375, 0.125],
    [0.25, 0.625, 0.125],
    [0.25, 0.5, 0.25],
    [0.125, 0.125, 0.75],
  ],
});

describe('class-balanced', () => {
  it('takes one item per predicted class in class order', () => {
    expect(indices(select(classBalanced, rows, 3))).toEqual([1, 5, 6]);
  });

  it('goes round-robin, skipping a class that has run out', () => {
    // Round 1: 1 (class 0), 5 (class 1), 6 (class 2); round 2: 3, 4 (class 2 is empty); round 3: 0.
    const picks = select(classBalanced, rows, 6);
    expect(indices(picks)).toEqual([1, 5, 6, 3, 4, 0]);
    expect(picks.map((p) => p.reason.predictedClass)).toEqual([0, 1, 2, 0, 1, 0]);
    expect(picks.map((p) => p.reason.score)).toEqual([0, -0.25, -0.625, -0.125, -0.375, -0.25]);
  });

  it('ranks within a class by the chosen score, ties by lower index', () => {
    // Least confidence: class 0 ranks 1 (.625), then 0 and 3 (both .5: row 0 first), then 2.
    const picks = select(classBalanced, rows, 4, { params: { score: 'least-confidence' } });
    expect(indices(picks)).toEqual([1, 5, 6, 0]);
    expect(picks[3].score).toBe(0.5);
  });

  it('returns an equal count per predicted class, give or take one', () => {
    const many = randomPool(4, 400, 4, 1);
    const picks = select(classBalanced, many, 30);
    const counts = [0, 0, 0, 0];
    for (const p of picks) counts[argmax(many.probabilities[0], p.index * 4, 4)]++;
    // 30 = 8 + 8 + 7 + 7 in class order.
    expect(counts).toEqual([8, 8, 7, 7]);
    expect(new Set(indices(picks)).size).toBe(30);
  });

  it('returns every row once when size exceeds the pool', () => {
    expect(indices(select(classBalanced, rows, 20)).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('asks for candidates by its own score', () => {
    expect(classBalanced.candidatePool({ score: 'entropy', candidatePool: 5000 })).toEqual({
      strategy: 'entropy',
      size: 5000,
    });
    expect(classBalanced.candidatePool({ score: 'margin', candidatePool: 0 })).toBeNull();
  });
});
