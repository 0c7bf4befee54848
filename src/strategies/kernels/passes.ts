/**
 * Every pass a selection team can run, numbered: the leader publishes a pass by its number and
 * each helper looks it up here, so leader and helpers run the same code.
 */
import { BADGE_PASSES } from './badge.passes';
import { K_CENTER_PASSES } from './k-center.passes';
import { PAIRWISE_PASSES } from './pairwise.passes';
import { helpTeam, SelectionTeam, type Pass } from './team';
import type { WasmMemory } from './simd-kernel';

export const PASS = {
  kCenterMeanDistance: 0,
  kCenterLabelled: 1,
  kCenterGaps: 2,
  kCenterStep: 3,
  badgeInit: 4,
  badgeStep: 5,
  pairwise: 6,
  kCenterQuantize: 7,
} as const;

const PASSES: Pass[] = [
  K_CENTER_PASSES.meanDistance,
  K_CENTER_PASSES.labelledCentres,
  K_CENTER_PASSES.gaps,
  K_CENTER_PASSES.step,
  BADGE_PASSES.init,
  BADGE_PASSES.step,
  PAIRWISE_PASSES.pairwise,
  K_CENTER_PASSES.quantize,
];

/** The leader's team over a memory a pool sent (helpers may join), or a team of one. */
export function leadTeam(memory?: WasmMemory): SelectionTeam {
  return memory ? new SelectionTeam(memory, PASSES) : SelectionTeam.local(PASSES);
}

/** A helper: runs passes of the team in `memory` until it is finished; returns the blocks it ran. */
export function helpSelection(memory: WasmMemory): number {
  return helpTeam(memory, PASSES);
}
