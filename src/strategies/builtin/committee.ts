import { argmax, entropy } from '../math';
import type { PointwiseStrategy } from '../types';
import { committeeOf, NO_PARAMS_SCHEMA, type NoParams } from './shared';

/*
 * Query by committee: two or more models score the same rows and disagreement is uncertainty.
 * Row scores only depend on the row, so both run pointwise inside the workers; ties go to the
 * lower row index.
 */

/**
 * Counts each member's hard vote (its argmax; a member's own tie goes to the lower class) for
 * `row` into `votes` (length classCount, overwritten).
 */
function countVotes(
  committee: Float32Array[],
  row: number,
  classCount: number,
  votes: Float64Array,
): void {
  votes.fill(0);
  const offset = row * classCount;
  for (const p of committee) votes[argmax(p, offset, classCount)] += 1;
}

/** Vote entropy in nats of `row`, using `votes` as scratch. */
function voteEntropyOf(
  committee: Float32Array[],
  row: number,
  classCount: number,
  votes: Float64Array,
): number {
  countVotes(committee, row, classCount, votes);
  for (let c = 0; c < classCount; c++) votes[c] /= committee.length;
  return entropy(votes, 0, classCount);
}

/** `committee`'s score of `row`, with `scratch` (length classCount) to work in. */
type CommitteeScore = (
  committee: Float32Array[],
  row: number,
  classCount: number,
  scratch: Float64Array,
) => number;

/**
 * A pointwise strategy that scores each row by `scoreOf` over the committee's probabilities
 * (one scratch array for all rows: no allocation per row), and explains a row with `reason`.
 */
function committeeStrategy(
  code: string,
  description: string,
  scoreOf: CommitteeScore,
  reason: (committee: Float32Array[], row: number, classCount: number) => Record<string, number>,
): PointwiseStrategy<NoParams> {
  return {
    code,
    kind: 'pointwise',
    description,
    needs: ['COMMITTEE'],
    paramsSchema: NO_PARAMS_SCHEMA,
    score(pool, _params, out) {
      const committee = committeeOf(pool, code);
      const scratch = new Float64Array(pool.classCount);
      for (let row = 0; row < pool.rows; row++) {
        out[row] = scoreOf(committee, row, pool.classCount, scratch);
      }
    },
    reason(pool, row) {
      return reason(committeeOf(pool, code), row, pool.classCount);
    },
  };
}

/** Vote entropy: the entropy of the committee's hard-vote distribution. */
export const voteEntropy = committeeStrategy(
  'vote-entropy',
  'Vote entropy (query by committee): prefers items the committee\'s hard votes split over most evenly (entropy of the vote distribution, in nats). See Dagan & Engelson, "Committee-Based Sampling for Training Probabilistic Classifiers", 1995.',
  voteEntropyOf,
  (committee, row, classCount) => {
    const votes = new Float64Array(classCount);
    countVotes(committee, row, classCount, votes);
    const topClass = argmax(votes);
    const votesForTop = votes[topClass];
    return {
      voteEntropy: voteEntropyOf(committee, row, classCount, votes),
      votesForTop,
      topClass,
    };
  },
);

/**
 * Mean over members of KL(member || consensus) in nats, the consensus being the members' mean
 * distribution; `consensus` is scratch of length classCount.
 *
 * No epsilon is needed against log(0): a term with p = 0 is 0 (0 log 0 = 0), and p > 0
 * implies q >= p / members > 0, because the consensus q averages p itself. Rounding can leave
 * a divergence a hair below 0; it is clamped to 0.
 */
function meanKlOf(
  committee: Float32Array[],
  row: number,
  classCount: number,
  consensus: Float64Array,
): number {
  const offset = row * classCount;
  consensus.fill(0);
  for (const p of committee) {
    for (let c = 0; c < classCount; c++) consensus[c] += p[offset + c];
  }
  for (let c = 0; c < classCount; c++) consensus[c] /= committee.length;
  let total = 0;
  for (const p of committee) {
    for (let c = 0; c < classCount; c++) {
      const pc = p[offset + c];
      if (pc > 0) total += pc * Math.log(pc / consensus[c]);
    }
  }
  return Math.max(0, total / committee.length);
}

/**
 * KL to the consensus: the committee members' mean divergence from their average (the direction
 * of McCallum & Nigam's "KL to the mean"). It grows with confident disagreement, so a committee
 * of over-confident members (bagged, nearly separable fits on few labels) ranks first the rows
 * one member is confidently wrong about: measured below random on the digits (README).
 */
export const klConsensus = committeeStrategy(
  'kl-consensus',
  'KL divergence to the consensus (query by committee): prefers items where the members\' distributions diverge most, on average, from their mean (in nats). See McCallum & Nigam, "Employing EM and Pool-Based Active Learning for Text Classification", 1998.',
  meanKlOf,
  (committee, row, classCount) => ({
    meanKl: meanKlOf(committee, row, classCount, new Float64Array(classCount)),
  }),
);
