import { klConsensus, voteEntropy } from '../../../src/strategies/builtin/committee';
import { pool, ranking, scores } from './helpers';

describe('vote-entropy', () => {
  /*
   * Three models, three classes; each model votes its argmax (a model's own tie: lower class).
   *          model 1            model 2             model 3             votes   entropy of votes
   * row 0  [.75,.125,.125]→0  [.5,.25,.25]→0     [.5,.5,0]→0 (tie)    0,0,0   0
   * row 1  [.5,.25,.25]→0     [.25,.5,.25]→1     [.25,.25,.5]→2       0,1,2   ln 3 = 1.0986
   * row 2  [.5,.25,.25]→0     [.625,.25,.125]→0  [.25,.5,.25]→1       0,0,1   -(2/3 ln 2/3 + 1/3 ln 1/3) = 0.6365
   * row 3  [.25,.25,.5]→2     [.25,.5,.25]→1     [.125,.25,.625]→2    2,1,2   0.6365
   * row 4  [.5,.5,0]→0 (tie)  [.25,.5,.25]→1     [.5,.25,.25]→0       0,1,0   0.6365
   */
  const committee = pool({
    committee: [
      [
        [0.75, 0.125, 0.125],
        [0.5, 0.25, 0.25],
        [0.5, 0.25, 0.25],
        [0.25, 0.25, 0.5],
        [0.5, 0.5, 0],
      ],
      [
        [0.5, 0.25, 0.25],
        [0.25, 0.5, 0.25],
        [0.625, 0.25, 0.125],
        [0.25, 0.5, 0.25],
        [0.25, 0.5, 0.25],
      ],
      [
        [0.5, 0.5, 0],
        [0.25, 0.25, 0.5],
        [0.25, 0.5, 0.25],
        [0.125, 0.25, 0.625],
        [0.5, 0.25, 0.25],
      ],
    ],
  });
  const twoToOne = -((2 / 3) * Math.log(2 / 3) + (1 / 3) * Math.log(1 / 3));

  it('scores the entropy of the hard-vote distribution', () => {
    const s = scores(voteEntropy, committee);
    expect(s[0]).toBe(0);
    expect(s[1]).toBeCloseTo(Math.log(3), 12);
    expect(s[2]).toBeCloseTo(twoToOne, 12);
    expect(s[3]).toBeCloseTo(twoToOne, 12);
    expect(s[4]).toBeCloseTo(twoToOne, 12);
  });

  it('ranks the most split vote first, equal splits (rows 2, 3, 4) by lower index', () => {
    expect(ranking(voteEntropy, committee)).toEqual([1, 2, 3, 4, 0]);
  });

  it('explains a row by its vote entropy and the votes for the leading class', () => {
    expect(voteEntropy.reason(committee, 3, {})).toEqual({
      voteEntropy: expect.closeTo(twoToOne, 12),
      votesForTop: 2,
      topClass: 2,
    });
    expect(voteEntropy.reason(committee, 0, {})).toEqual({
      voteEntropy: 0,
      votesForTop: 3,
      topClass: 0,
    });
  });

  it('refuses a committee of one model', () => {
    expect(() => scores(voteEntropy, pool({ probabilities: [[0.5, 0.5]] }))).toThrow(
      /two or more models, but got 1/,
    );
  });
});

describe('kl-consensus', () => {
  /*
   * Three models, two classes; consensus q = mean of the members; score = mean_m KL(p_m || q).
   * row 0  [.5,.5]  [.5,.5]   [.5,.5]    q=[.5,.5]   all KL 0                       -> 0
   * row 1  [1,0]    [0,1]     [.5,.5]    q=[.5,.5]   ln 2, ln 2, 0                  -> 2 ln 2 / 3 = 0.46210
   * row 2  [.75,.25][.25,.75] [.5,.5]    q=[.5,.5]   .75 ln 1.5 + .25 ln .5 = 0.13081 (twice), 0
   *                                                                                 -> 0.08721
   * row 3  [1,0]    [1,0]     [.25,.75]  q=[.75,.25] ln(4/3) = 0.28768 (twice),
   *                                                  .25 ln(1/3) + .75 ln 3 = 0.54931 -> 0.37489
   */
  const committee = pool({
    committee: [
      [
        [0.5, 0.5],
        [1, 0],
        [0.75, 0.25],
        [1, 0],
      ],
      [
        [0.5, 0.5],
        [0, 1],
        [0.25, 0.75],
        [1, 0],
      ],
      [
        [0.5, 0.5],
        [0.5, 0.5],
        [0.5, 0.5],
        [0.25, 0.75],
      ],
    ],
  });

  it('scores the mean KL divergence of the members from their consensus, with 0 log 0 = 0', () => {
    const s = scores(klConsensus, committee);
    expect(s[0]).toBe(0);
    expect(s[1]).toBeCloseTo((2 * Math.LN2) / 3, 12);
    expect(s[2]).toBeCloseTo((2 * (0.75 * Math.log(1.5) + 0.25 * Math.log(0.5))) / 3, 12);
    expect(s[3]).toBeCloseTo(
      (2 * Math.log(4 / 3) + 0.25 * Math.log(1 / 3) + 0.75 * Math.log(3)) / 3,
      12,
    );
  });

  it('ranks the most disagreeing rows first', () => {
    expect(ranking(klConsensus, committee)).toEqual([1, 3, 2, 0]);
  });

  it('explains a row by its mean divergence', () => {
    expect(klConsensus.reason(committee, 1, {})).toEqual({
      meanKl: expect.closeTo((2 * Math.LN2) / 3, 12),
    });
  });

  it('breaks ties between identical rows by the lower index', () => {
    const same = pool({
      committee: [
        [
          [0.9, 0.1],
          [0.6, 0.4],
          [0.6, 0.4],
        ],
        [
          [0.9, 0.1],
          [0.2, 0.8],
          [0.2, 0.8],
        ],
      ],
    });
    expect(ranking(klConsensus, same, 2)).toEqual([1, 2]);
  });
});
