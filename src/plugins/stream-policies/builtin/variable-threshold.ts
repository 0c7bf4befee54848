/**
 * The variable-threshold policies (plain and randomized), after Žliobaitė, Bifet, Pfahringer &
 * Holmes, "Active Learning With Drifting Streaming Data", IEEE TNNLS 25(1), 27–39, 2014
 * (Algorithms 3 and 4), as also implemented by scikit-activeml's
 * `VariableUncertaintyBudgetManager`:
 *
 * ```
 * θ ← θ0                                   (θ0 = 1 in the paper)
 * for each item t = 1, 2, ...:
 *   if spent share < b:                    (the labelling budget is not exceeded)
 *     θr ← θ · η,  η ~ N(1, δ)             (randomized variant only; else θr = θ)
 *     if confidence < θr:  θ ← θ(1 − s);  QUERY
 *     else:                θ ← θ(1 + s);  ACCEPT
 *   else:                                   ACCEPT, θ unchanged
 * ```
 *
 * θ is kept within (0, 1] and θr clipped to [0, 1], so that the threshold in force is always a
 * probability. When the spent share is at the budget the policy returns ACCEPT with θ: the
 * session labels the item only if its confidence reaches θ, and otherwise skips it (the paper
 * leaves it unlabelled too; it does not turn it into a model label).
 *
 * The spent share is either u/t (labels requested over items seen, this item included: the
 * paper's definition, and the one that spends b · N labels evenly over N items) or, for
 * unbounded streams, the paper's sliding-window estimate û/w with û ← û(w − 1)/w + labelling_t.
 * The estimate starts at û = 0 (as in the paper), so until about w items have passed it lets
 * queries through faster than b; on a bounded stream with a hard budget, prefer u/t.
 */
import type { InputProblem } from '../../../errors';
import { standardNormal } from '../../../ml/distributions';
import type { StreamItemContext, StreamPolicy, StreamVerdict } from '../types';

/** Parameters of {@link variableThreshold}. */
export interface VariableThresholdParams {
  /** θ before the first item. Default 1 (the paper's). */
  initialThreshold: number;
  /** The adjusting step s: θ ← θ(1 − s) after a query, θ ← θ(1 + s) after an accept. Default 0.01. */
  step: number;
  /**
   * The share b of items to label. Give either this or `budgetUnits` with `expectedLength`;
   * {@link DEFAULT_BUDGET_SHARE} when neither is given.
   */
  budgetShare?: number;
  /** Label units to spend over `expectedLength` items: b = budgetUnits / expectedLength. */
  budgetUnits?: number;
  /** How many items the stream is expected to bring (only with `budgetUnits`). */
  expectedLength?: number;
  /**
   * 0 (default): the spent share is u/t over the whole stream so far, which spreads the budget
   * evenly. w ≥ 1: the paper's sliding-window estimate over about the last w items, for
   * unbounded streams.
   */
  window: number;
}

/** Parameters of {@link randomizedVariableThreshold}. */
export interface RandomizedVariableThresholdParams extends VariableThresholdParams {
  /** Standard deviation δ of the threshold's random multiplier η ~ N(1, δ). Default 1. */
  delta: number;
}

/** The state of the variable policies. */
export type VariableThresholdState = {
  /** The current threshold θ. */
  threshold: number;
  /** The sliding-window spending estimate û (stays 0 when `window` is 0). */
  spending: number;
};

/** The budget share used when neither `budgetShare` nor `budgetUnits` is given. */
export const DEFAULT_BUDGET_SHARE = 0.1;

/** The share b of items a variable policy may label, from its parameters. */
export function budgetShareOf(params: VariableThresholdParams): number {
  if (params.budgetShare !== undefined) return params.budgetShare;
  if (params.budgetUnits !== undefined && params.expectedLength !== undefined)
    return params.budgetUnits / params.expectedLength;
  return DEFAULT_BUDGET_SHARE;
}

const VARIABLE_PROPERTIES: Record<string, unknown> = {
  initialThreshold: {
    type: 'number',
    exclusiveMinimum: 0,
    maximum: 1,
    default: 1,
    description: 'The threshold θ before the first item (the paper starts at 1).',
  },
  step: {
    type: 'number',
    exclusiveMinimum: 0,
    exclusiveMaximum: 1,
    default: 0.01,
    description: 'The step s: θ ← θ(1 − s) after a query, θ ← θ(1 + s) after an accept.',
  },
  budgetShare: {
    type: 'number',
    exclusiveMinimum: 0,
    maximum: 1,
    description: `The share of items to label (default ${DEFAULT_BUDGET_SHARE}); or give budgetUnits with expectedLength.`,
  },
  budgetUnits: {
    type: 'integer',
    minimum: 1,
    description: 'Label units to spend evenly over expectedLength items.',
  },
  expectedLength: {
    type: 'integer',
    minimum: 1,
    description: 'How many items the stream is expected to bring; needed with budgetUnits.',
  },
  window: {
    type: 'integer',
    minimum: 0,
    default: 0,
    description:
      '0: pace on the share spent over the whole stream so far. w ≥ 1: pace on the paper’s estimate over about the last w items.',
  },
};

function checkBudget(params: VariableThresholdParams): InputProblem[] {
  const { budgetShare, budgetUnits, expectedLength } = params;
  const problems: InputProblem[] = [];
  if (budgetShare !== undefined && budgetUnits !== undefined) {
    problems.push({
      field: 'params.budgetUnits',
      message: 'cannot be given with params.budgetShare: give a share, or units with a length',
    });
  }
  if (budgetUnits !== undefined && expectedLength === undefined) {
    problems.push({
      field: 'params.expectedLength',
      message:
        'is required with params.budgetUnits (the share spent is budgetUnits / expectedLength)',
    });
  }
  if (expectedLength !== undefined && budgetUnits === undefined) {
    problems.push({
      field: 'params.expectedLength',
      message: 'is only used with params.budgetUnits; give both, or params.budgetShare alone',
    });
  }
  if (budgetUnits !== undefined && expectedLength !== undefined && budgetUnits > expectedLength) {
    problems.push({
      field: 'params.budgetUnits',
      message: `must be at most params.expectedLength (${expectedLength}); got ${budgetUnits}`,
    });
  }
  return problems;
}

const VARIABLE_STATE_SCHEMA: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['threshold', 'spending'],
  properties: {
    threshold: { type: 'number', minimum: 0 },
    spending: { type: 'number', minimum: 0 },
  },
};

function decideVariable(
  params: VariableThresholdParams,
  state: VariableThresholdState,
  item: StreamItemContext,
  randomizedThreshold: (threshold: number) => number,
): StreamVerdict<VariableThresholdState> {
  const budgetShare = budgetShareOf(params);
  const { window } = params;
  const spentShare = window === 0 ? item.requested / (item.seen + 1) : state.spending / window;
  const decay = (queried: boolean) =>
    window === 0 ? 0 : state.spending * ((window - 1) / window) + (queried ? 1 : 0);
  if (!(spentShare < budgetShare)) {
    return {
      decision: 'ACCEPT',
      threshold: state.threshold,
      state: { threshold: state.threshold, spending: decay(false) },
      reason: { spentShare, budgetShare },
    };
  }
  // A threshold is a probability: θ·η is clipped to [0, 1], and θ never grows past 1 (at 1
  // every item below certainty is queried already; more would only delay the narrowing).
  const threshold = Math.min(1, Math.max(0, randomizedThreshold(state.threshold)));
  const query = item.confidence < threshold;
  return {
    decision: query ? 'QUERY' : 'ACCEPT',
    threshold,
    state: {
      threshold: Math.min(1, state.threshold * (query ? 1 - params.step : 1 + params.step)),
      spending: decay(query),
    },
  };
}

/**
 * Variable threshold (Variable Uncertainty, Žliobaitė et al. 2014, Algorithm 3): queries items
 * below a threshold θ that narrows after each query and widens after each confident accept,
 * while the share of items queried stays below the budget share b. Over a stream of N items it
 * asks for about b · N labels spread evenly along the stream, whatever the model's confidences.
 */
export const variableThreshold: StreamPolicy<VariableThresholdParams, VariableThresholdState> = {
  code: 'variable-threshold',
  description:
    'Variable threshold: asks for a label below a confidence threshold that narrows after each query and widens after each accept, and never spends more than a set share of the items seen, so the budget is spread evenly along the stream (Variable Uncertainty in Žliobaitė, Bifet, Pfahringer & Holmes, "Active Learning With Drifting Streaming Data", IEEE TNNLS, 2014).',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: VARIABLE_PROPERTIES,
  },
  checkParams: checkBudget,
  stateSchema: VARIABLE_STATE_SCHEMA,
  initialState: (params) => ({ threshold: params.initialThreshold, spending: 0 }),
  decide: (params, state, item) => decideVariable(params, state, item, (threshold) => threshold),
};

/**
 * Randomized variable threshold (Žliobaitė et al. 2014, Algorithm 4): as
 * {@link variableThreshold}, but each item is compared with θ · η, η ~ N(1, δ), so that items
 * the model is sure about are sometimes queried too, which catches concept drift far from the
 * decision boundary.
 */
export const randomizedVariableThreshold: StreamPolicy<
  RandomizedVariableThresholdParams,
  VariableThresholdState
> = {
  code: 'randomized-variable-threshold',
  description:
    'Randomized variable threshold: the variable threshold policy with the threshold multiplied by a normal random factor N(1, δ) for each item, so that confident items are sometimes queried too and drift far from the decision boundary is noticed (Randomized Variable Uncertainty in Žliobaitė, Bifet, Pfahringer & Holmes, "Active Learning With Drifting Streaming Data", IEEE TNNLS, 2014).',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...VARIABLE_PROPERTIES,
      delta: {
        type: 'number',
        minimum: 0,
        default: 1,
        description: 'Standard deviation δ of the random factor η ~ N(1, δ) of the threshold.',
      },
    },
  },
  checkParams: checkBudget,
  stateSchema: VARIABLE_STATE_SCHEMA,
  initialState: (params) => ({ threshold: params.initialThreshold, spending: 0 }),
  decide: (params, state, item) =>
    decideVariable(
      params,
      state,
      item,
      (threshold) => threshold * (1 + params.delta * standardNormal(item.random)),
    ),
};
