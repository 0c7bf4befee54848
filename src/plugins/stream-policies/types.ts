/**
 * The stream selective-sampling policy plugin interface. Items arrive one at a time (or in small
 * batches, decided in arrival order); for each, a policy sees the model's top-class confidence
 * and decides whether a human should label it (`QUERY`) or the model's label is accepted
 * (`ACCEPT`). Built-in policies and third-party ones implement the same contract; a plugin
 * module exports `policies: StreamPolicy[]` (see `registry.ts`).
 *
 * Policies are pure: everything a policy remembers between items lives in its state, a plain
 * JSON value that the server persists between calls (see `src/services/stream-session.ts`).
 */
import type { Plugin } from '../registry';
import type { Random } from '../../strategies/math';

/** What a policy wants for one item. */
export type StreamDecision = 'QUERY' | 'ACCEPT';

/**
 * What became of one item: `QUERIED` (a label is paid for), `ACCEPTED` (the model's label is
 * taken: its confidence is at least the threshold in force), `DEFERRED` (the policy wanted a
 * label but the budget was spent) or `SKIPPED` (the policy accepted an item below the threshold
 * in force, e.g. when its pacing held a query back: neither labelled nor queried).
 */
export type StreamOutcome = 'QUERIED' | 'ACCEPTED' | 'DEFERRED' | 'SKIPPED';

/** Any JSON value: what a policy's state may be made of. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What a policy sees for one item. */
export interface StreamItemContext {
  /** The model's probability of its most probable class for this item, in [0, 1]. */
  confidence: number;
  /**
   * Label units left in the budget before this item (`Infinity` without a budget). Information
   * only: a policy decides what it wants, and the session turns a `QUERY` into `DEFERRED` when
   * less than one unit is left. See {@link StreamPolicy.decide} for what that does to the state.
   */
  budgetRemaining: number;
  /** How many items of this stream were decided before this one (so this is item `seen + 1`). */
  seen: number;
  /** How many of them got a `QUERY` decision (whether QUERIED or DEFERRED). */
  requested: number;
  /**
   * A seeded generator of numbers in [0, 1), derived from the stream's seed and `seen`: the
   * same stream gives the same draws, whether it is decided in one call or resumed in many.
   */
  random: Random;
}

/** A policy's verdict on one item. */
export interface StreamVerdict<S> {
  decision: StreamDecision;
  /**
   * The threshold the confidence was compared with (after any randomisation), a probability in
   * [0, 1]: `QUERY` when `confidence < threshold` and the policy's own pacing allows it. The
   * session accepts an item only when its confidence is at least this (an `ACCEPT` below it is
   * `SKIPPED`), so AUTO_LABELED always means "at or above the threshold in force".
   */
  threshold: number;
  /** The policy's state after this item: persist it and pass it with the next item. */
  state: S;
  /**
   * The numbers behind the decision, for audit, e.g. `{ spentShare: 0.1, budgetShare: 0.1 }`
   * when pacing held a query back.
   */
  reason?: Record<string, number>;
}

/**
 * A stream selective-sampling policy.
 *
 * **Budget and deferred items.** The session, not the policy, enforces the hard budget: when a
 * policy says `QUERY` and no label unit is left, the item becomes `DEFERRED`. A policy returns
 * the same verdict and the same next state whether or not budget remains: to the policy, a
 * deferred item is a query whose label is postponed, not refused. So a policy that paces its
 * spending counts a deferred item as spent, and topping up the budget later does not unleash a
 * burst of catch-up queries. (A policy may read `budgetRemaining` to adapt, e.g. to spread the
 * units left over the items expected, but must keep its state a function of what it decided.)
 */
export interface StreamPolicy<P = Record<string, unknown>, S extends Json = Json> extends Plugin {
  /** JSON Schema of the state, checked when a persisted state is resumed. */
  readonly stateSchema: Record<string, unknown>;
  /** The state before the first item, from the validated parameters. */
  initialState(params: P): S;
  /** Decides one item. Pure: must not change `state`, must return a fresh one. */
  decide(params: P, state: S, item: StreamItemContext): StreamVerdict<S>;
}

/** What a stream-policy plugin module exports. */
export interface StreamPolicyModule {
  policies: StreamPolicy<any, any>[];
}
