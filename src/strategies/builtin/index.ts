import type { Strategy } from '../types';
import { badge } from './badge';
import { classBalanced } from './class-balanced';
import { clusterMargin } from './cluster-margin';
import { klConsensus, voteEntropy } from './committee';
import { kCenter } from './k-center';
import { random } from './random';
import { entropyStrategy, leastConfidence, margin } from './uncertainty';

/**
 * The built-in strategies, a plugin module like any other (`{ strategies }`). Pure and
 * self-contained: worker threads `require` this module, so it imports nothing from the server.
 */
export const strategies: Strategy[] = [
  random,
  leastConfidence,
  margin,
  entropyStrategy,
  voteEntropy,
  klConsensus,
  kCenter,
  badge,
  classBalanced,
  clusterMargin,
];
