import type { StreamPolicy } from '../types';

/** Parameters of {@link fixedThreshold}. */
export interface FixedThresholdParams {
  /** Query an item whose top-class confidence is below this. Default 0.9. */
  threshold: number;
}

/** {@link fixedThreshold} remembers nothing. */
export type FixedThresholdState = { [key: string]: never };

/**
 * Fixed threshold: query every item whose confidence is below `threshold`, accept the rest. No
 * pacing: on a stream that starts uncertain it spends the whole budget early (the server defers
 * what comes after).
 */
export const fixedThreshold: StreamPolicy<FixedThresholdParams, FixedThresholdState> = {
  code: 'fixed-threshold',
  description:
    'Fixed threshold: asks for a label when the model’s top-class confidence is below a fixed threshold, accepts the model’s label otherwise. Does not pace its spending (Fixed Uncertainty in Žliobaitė et al., "Active Learning With Drifting Streaming Data", 2014, without its budget check).',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      threshold: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 1,
        default: 0.9,
        description: 'Query an item whose top-class confidence is below this.',
      },
    },
  },
  stateSchema: { type: 'object', additionalProperties: false, properties: {} },
  initialState: () => ({}),
  decide(params, state, item) {
    return {
      decision: item.confidence < params.threshold ? 'QUERY' : 'ACCEPT',
      threshold: params.threshold,
      state: { ...state },
    };
  },
};
