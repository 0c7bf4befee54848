/**
 * Runs a stream policy over items in arrival order and keeps everything it needs between calls
 * in one JSON value, {@link StreamState}, for the server to persist: decide a batch, store
 * `session.state`, and resume from it when the next batch arrives. Deciding a stream in one
 * call or in many gives the same decisions.
 */
import Ajv from 'ajv';
import { BadUserInputError } from '../errors';
import { mulberry32, seedFrom } from '../strategies/math';
import { stateValidatorOf, type StreamPolicyRegistry } from '../plugins/stream-policies/registry';
import type {
  Json,
  StreamDecision,
  StreamOutcome,
  StreamPolicy,
} from '../plugins/stream-policies/types';

/** The persisted state of one stream. Plain JSON. */
export interface StreamState {
  /** The policy's code: a state resumes only with the policy that made it. */
  policy: string;
  /** Seeds the per-item random draws (32-bit). */
  seed: number;
  /** Items decided so far. */
  seen: number;
  /** Items the policy wanted labelled: `queried + deferred`. */
  requested: number;
  /** Items sent to a human, each spending one label unit. */
  queried: number;
  /** Items the policy wanted labelled while no label unit was left. */
  deferred: number;
  /** Items whose model label was accepted. */
  accepted: number;
  /**
   * Items the policy accepted below the threshold in force (e.g. held back by its pacing), or
   * below the stream's certified threshold: neither labelled nor queried. Absent in states
   * stored before it was counted (0).
   */
  skipped?: number;
  /** The policy's own state (see its `stateSchema`). */
  policyState: Json;
}

/** What became of one item. */
export interface StreamStep {
  /** What the policy wanted. */
  decision: StreamDecision;
  /**
   * What happens: a `QUERY` without budget left is `DEFERRED`; an `ACCEPT` below the threshold
   * in force is `SKIPPED`.
   */
  outcome: StreamOutcome;
  /**
   * The threshold in force, a probability in [0, 1]: for a `QUERY`, the one the policy compared
   * the confidence with; for an `ACCEPT`, the one the confidence had to reach (the policy's, or
   * the certified one when that is higher).
   */
  threshold: number;
  /** The numbers behind the decision, when the policy gives them. */
  reason?: Record<string, number>;
}

const COUNTER = { type: 'integer', minimum: 0 };
const validateEnvelope = new Ajv({ allErrors: true, strict: true }).compile({
  type: 'object',
  additionalProperties: false,
  required: [
    'policy',
    'seed',
    'seen',
    'requested',
    'queried',
    'deferred',
    'accepted',
    'policyState',
  ],
  properties: {
    policy: { type: 'string' },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
    seen: COUNTER,
    requested: COUNTER,
    queried: COUNTER,
    deferred: COUNTER,
    accepted: COUNTER,
    skipped: COUNTER,
    policyState: {},
  },
});

/**
 * One stream being decided by one policy.
 *
 * @example
 * const session = StreamSession.start(registry, 'variable-threshold', { budgetShare: 0.05 }, streamId);
 * const { steps, budgetRemaining } = session.decideBatch(confidences, dataset.budgetRemaining);
 * await save(session.state); // later: StreamSession.resume(registry, code, params, saved)
 */
export class StreamSession {
  private constructor(
    private readonly policy: StreamPolicy<any, any>,
    private readonly params: Record<string, unknown>,
    private current: StreamState,
  ) {}

  /**
   * A new stream. `params` are validated (BAD_USER_INPUT naming `params.x`) and get their
   * defaults; `seed` (any string or number, e.g. the stream's id) seeds the random draws.
   */
  static start(
    registry: StreamPolicyRegistry,
    code: string,
    params: unknown,
    seed: string | number,
  ): StreamSession {
    const { plugin } = registry.get(code);
    const checked = registry.params(code, params);
    const policyState = plugin.initialState(checked);
    StreamSession.checkPolicyState(plugin, policyState, 'initialState()');
    return new StreamSession(plugin, checked, {
      policy: code,
      seed: seedFrom(seed),
      seen: 0,
      requested: 0,
      queried: 0,
      deferred: 0,
      accepted: 0,
      policyState,
    });
  }

  /**
   * Resumes a stream from a state that `state` returned earlier, with the same `params`. A state
   * of another policy is BAD_USER_INPUT (a stream keeps its policy); a malformed state is an
   * internal error.
   */
  static resume(
    registry: StreamPolicyRegistry,
    code: string,
    params: unknown,
    state: unknown,
  ): StreamSession {
    const { plugin } = registry.get(code);
    const checked = registry.params(code, params);
    if (!validateEnvelope(state)) {
      throw new Error(
        `A stream state is malformed: ${new Ajv().errorsText(validateEnvelope.errors)}.`,
      );
    }
    const s = state as unknown as StreamState;
    if (s.policy !== code) {
      throw new BadUserInputError(
        `This stream is decided by the policy "${s.policy}"; it cannot continue with "${code}". Start a new stream to change policies.`,
      );
    }
    if (
      s.queried + s.deferred !== s.requested ||
      s.requested + s.accepted + (s.skipped ?? 0) !== s.seen
    ) {
      throw new Error(
        `A stream state's counters disagree: seen ${s.seen}, requested ${s.requested}, queried ${s.queried}, deferred ${s.deferred}, accepted ${s.accepted}, skipped ${s.skipped ?? 0}.`,
      );
    }
    StreamSession.checkPolicyState(plugin, s.policyState, 'the stored state');
    return new StreamSession(plugin, checked, structuredClone(s));
  }

  private static checkPolicyState(policy: StreamPolicy<any, any>, value: unknown, what: string) {
    const validate = stateValidatorOf(policy);
    if (!validate(value)) {
      throw new Error(
        `Stream policy "${policy.code}": ${what} does not match its stateSchema: ${new Ajv().errorsText(validate.errors)}.`,
      );
    }
  }

  /** A copy of the state to persist after the last decided item. */
  get state(): StreamState {
    return structuredClone(this.current);
  }

  /**
   * Decides the next item. `confidence` is the model's top-class probability in [0, 1];
   * `budgetRemaining` the label units left (Infinity: no budget). A `QUERY` with less than one
   * unit left becomes `DEFERRED`; the policy's state moves on the same either way (see
   * `StreamPolicy`). The caller spends one unit for each `QUERIED` outcome.
   *
   * An item is `ACCEPTED` (gets the model's label) only when its confidence is at least the
   * threshold in force: the policy's, and `acceptFloor` (a certified threshold) when higher.
   * An `ACCEPT` below it is `SKIPPED`: a pacing policy that holds a query back does not thereby
   * turn an uncertain item into a label.
   */
  next(confidence: number, budgetRemaining = Infinity, acceptFloor = 0): StreamStep {
    if (!(confidence >= 0 && confidence <= 1)) {
      throw new RangeError(`A stream item's confidence must be in [0, 1]; got ${confidence}.`);
    }
    if (!(budgetRemaining >= 0)) {
      throw new RangeError(`budgetRemaining must be >= 0; got ${budgetRemaining}.`);
    }
    const s = this.current;
    const verdict = this.policy.decide(this.params, s.policyState, {
      confidence,
      budgetRemaining,
      seen: s.seen,
      requested: s.requested,
      random: mulberry32(seedFrom(`${s.seed}:${s.seen}`)),
    });
    if (verdict.decision !== 'QUERY' && verdict.decision !== 'ACCEPT') {
      throw new Error(
        `Stream policy "${this.policy.code}" decided ${JSON.stringify(verdict.decision)}; expected QUERY or ACCEPT.`,
      );
    }
    if (!(verdict.threshold >= 0 && verdict.threshold <= 1)) {
      throw new Error(
        `Stream policy "${this.policy.code}" gave the threshold ${verdict.threshold}; a threshold is a probability in [0, 1].`,
      );
    }
    let outcome: StreamOutcome;
    let threshold = verdict.threshold;
    if (verdict.decision === 'ACCEPT') {
      // A floor above 1 (a class with no certified threshold) accepts nothing.
      outcome = confidence >= threshold && confidence >= acceptFloor ? 'ACCEPTED' : 'SKIPPED';
      threshold = Math.min(1, Math.max(threshold, acceptFloor));
    } else outcome = budgetRemaining >= 1 ? 'QUERIED' : 'DEFERRED';
    this.current = {
      ...s,
      seen: s.seen + 1,
      requested: s.requested + (verdict.decision === 'QUERY' ? 1 : 0),
      queried: s.queried + (outcome === 'QUERIED' ? 1 : 0),
      deferred: s.deferred + (outcome === 'DEFERRED' ? 1 : 0),
      accepted: s.accepted + (outcome === 'ACCEPTED' ? 1 : 0),
      skipped: (s.skipped ?? 0) + (outcome === 'SKIPPED' ? 1 : 0),
      policyState: verdict.state,
    };
    const step: StreamStep = { decision: verdict.decision, outcome, threshold };
    if (verdict.reason) step.reason = verdict.reason;
    return step;
  }

  /**
   * Decides items in arrival order, spending one of `budgetRemaining` units for each
   * `QUERIED` one; returns the steps and the units left. `acceptFloors[i]`, when given, is the
   * certified threshold item i must reach to be accepted (see {@link next}).
   */
  decideBatch(
    confidences: ArrayLike<number>,
    budgetRemaining = Infinity,
    acceptFloors?: ArrayLike<number>,
  ): { steps: StreamStep[]; budgetRemaining: number } {
    // Checked up front so that a bad value leaves the state as it was, not half-advanced.
    for (let i = 0; i < confidences.length; i++) {
      const c = confidences[i];
      if (!(c >= 0 && c <= 1)) {
        throw new RangeError(`confidences[${i}] must be in [0, 1]; got ${c}.`);
      }
    }
    const steps: StreamStep[] = [];
    let left = budgetRemaining;
    for (let i = 0; i < confidences.length; i++) {
      const step = this.next(confidences[i], left, acceptFloors?.[i] ?? 0);
      if (step.outcome === 'QUERIED') left -= 1;
      steps.push(step);
    }
    return { steps, budgetRemaining: left };
  }
}
