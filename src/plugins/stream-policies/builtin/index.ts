/**
 * The built-in stream selective-sampling policies, a plugin module like any other
 * (`{ policies }`): `fixed-threshold` (fixed-threshold.ts), and the variable-threshold family
 * after Žliobaitė et al. 2014 (variable-threshold.ts).
 */
import type { StreamPolicy } from '../types';
import { fixedThreshold } from './fixed-threshold';
import { randomizedVariableThreshold, variableThreshold } from './variable-threshold';

export * from './fixed-threshold';
export * from './variable-threshold';

/** The built-in policies. */
export const policies: StreamPolicy<any, any>[] = [
  fixedThreshold,
  variableThreshold,
  randomizedVariableThreshold,
];
