import type { GraphQLTransport } from './client.js';
import { QuarryError } from './errors.js';
import {
  ChangeAnswerDocument,
  ClaimQueriesDocument,
  ReleaseQueryDocument,
  RenewLeaseDocument,
  SkipQueryDocument,
  SubmitLabelDocument,
  type ClaimFieldsFragment,
  type SubmitLabelMutation,
} from './gql/graphql.js';
import { sleep } from './retry.js';

/**
 * A query handed to you with a lease, as `queue.claim` answers it, plus the idempotency key
 * its submit will carry (made once per claim, so every retry of the submit reuses it).
 */
export type Claim = ClaimFieldsFragment & { readonly idempotencyKey: string };

export type SubmitResult = SubmitLabelMutation['submitLabel'];

/** Options of {@link QueueApi.claim}. */
export interface ClaimOptions {
  /** The lease, 1 to 3600 seconds. Default 300. */
  leaseSeconds?: number;
  /** Who labels, for tools serving several people with one SERVICE key. */
  annotatorId?: string;
  signal?: AbortSignal;
}

/** What a {@link QueueApi.work} handler decides for one claim. */
export type Decision =
  | string
  | { readonly value: string }
  | { readonly skip: true; readonly reason?: string }
  | { readonly release: true };

/** Options of {@link QueueApi.work}. */
export interface WorkOptions {
  /** Claims worked at once, each by its own loop. Default 1. */
  concurrency?: number;
  /** Each claim's lease; it is renewed at half-time while the handler decides. Default 60. */
  leaseSeconds?: number;
  /**
   * Who labels: one id for every loop, or one per loop (`(i) => 'annotator-' + i`) so that a
   * query needing k answers can get them from k loops of one SERVICE key.
   */
  annotatorId?: string | ((loop: number) => string);
  /**
   * When a claim comes back empty: `'stop'` ends the loop (default), `'wait'` polls again after
   * `idleMs` until the signal aborts.
   */
  whenEmpty?: 'stop' | 'wait';
  /** The pause before claiming again after an empty claim or a failed call. Default 1000. */
  idleMs?: number;
  signal?: AbortSignal;
  /** Called after each submit, skip or release. */
  onDecision?: (claim: Claim, outcome: WorkOutcome) => void;
}

export type WorkOutcome =
  | { readonly kind: 'submitted'; readonly result: SubmitResult }
  | { readonly kind: 'skipped' }
  | { readonly kind: 'released' }
  /** The claim went stale (`CONFLICT`: the lease ran out and someone else took the query). */
  | { readonly kind: 'lost'; readonly error: QuarryError };

/** What {@link QueueApi.work} did. */
export interface WorkReport {
  submitted: number;
  /** Of the submits, those a retry found already done (answered from the idempotency record). */
  replayed: number;
  skipped: number;
  released: number;
  lost: number;
  /** Whether a claim was refused because the dataset's label budget was spent. */
  budgetExhausted: boolean;
}

type ResolvedWorkOptions = Required<
  Pick<WorkOptions, 'concurrency' | 'leaseSeconds' | 'whenEmpty' | 'idleMs'>
> &
  WorkOptions;

const WORK_DEFAULTS: ResolvedWorkOptions = {
  concurrency: 1,
  leaseSeconds: 60,
  whenEmpty: 'stop',
  idleMs: 1000,
};

/**
 * `client.queue`: the annotator's calls. Submits carry an idempotency key and are retried
 * after lost answers and `SERVICE_OVERLOADED`; claims are retried only on `SERVICE_OVERLOADED`
 * (a lost claim answer holds its queries until their lease ends, so it is not repeated blindly).
 */
export class QueueApi {
  constructor(private readonly t: GraphQLTransport) {}

  /** Claims up to `count` (1 to 100) queries nobody holds; an empty list when none is free. */
  async claim(datasetId: string, count = 1, opts: ClaimOptions = {}): Promise<Claim[]> {
    const { claimQueries } = await this.t.request(
      ClaimQueriesDocument,
      {
        datasetId,
        count,
        leaseSeconds: opts.leaseSeconds ?? 300,
        annotatorId: opts.annotatorId,
      },
      { signal: opts.signal },
    );
    return claimQueries.map((c) => ({ ...c, idempotencyKey: globalThis.crypto.randomUUID() }));
  }

  /**
   * Answers a claimed query with a class name. Safe to call again with the same claim: the
   * server answers a repeat from its idempotency record (`replayed: true`) and writes one label.
   */
  async submit(
    claim: Claim,
    value: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<SubmitResult> {
    const { submitLabel } = await this.t.request(
      SubmitLabelDocument,
      {
        queryId: claim.query.id,
        value,
        claimToken: claim.token,
        idempotencyKey: claim.idempotencyKey,
      },
      { idempotent: true, signal: opts.signal },
    );
    return submitLabel;
  }

  /**
   * Changes the answer given with this claim while its lease has not ended (with one answer
   * needed, the item's label changes too). `CONFLICT` once the lease has ended.
   */
  async changeAnswer(claim: Claim, value: string): Promise<SubmitResult> {
    // Setting the same answer twice leaves the same state: a lost answer may be repeated.
    const { changeAnswer } = await this.t.request(
      ChangeAnswerDocument,
      { claimToken: claim.token, value },
      { idempotent: true },
    );
    return changeAnswer;
  }

  /** Extends the claim's lease to `leaseSeconds` from now; answers the new expiry. */
  async renew(claim: Claim, leaseSeconds = 300): Promise<string> {
    // Renewing twice sets the same kind of expiry, so a lost answer may be repeated.
    const { renewLease } = await this.t.request(
      RenewLeaseDocument,
      { claimToken: claim.token, leaseSeconds },
      { idempotent: true },
    );
    return renewLease.expiresAt;
  }

  /** Gives the query back to the queue at once (you may get it again). */
  async release(claim: Claim): Promise<void> {
    await this.t.request(ReleaseQueryDocument, { claimToken: claim.token });
  }

  /** Passes on the query: others get it, you will not again. */
  async skip(claim: Claim, reason?: string): Promise<void> {
    await this.t.request(SkipQueryDocument, { claimToken: claim.token, reason });
  }

  /**
   * Renews the claim's lease at half-time until the returned function is called.
   * A failed renewal is reported to `onError` and renewing goes on.
   */
  keepAlive(claim: Claim, leaseSeconds: number, onError?: (e: unknown) => void): () => void {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const everyMs = Math.max(500, (leaseSeconds * 1000) / 2);
    const tick = () => {
      timer = setTimeout(() => {
        this.renew(claim, leaseSeconds).then(
          () => !stopped && tick(),
          (e: unknown) => {
            onError?.(e);
            if (!stopped) tick();
          },
        );
      }, everyMs);
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  /**
   * Runs the whole annotator loop: `concurrency` loops each claim a query, let `handler`
   * decide (renewing the lease meanwhile), and submit, skip or release it, until the queue is
   * empty or the label budget is spent (or, with `whenEmpty: 'wait'`, until the signal aborts). A handler that throws
   * releases its claim and stops the work with that error.
   *
   * @example
   * ```ts
   * const report = await client.queue.work(datasetId, async (claim) => myModel(claim.query.item), {
   *   concurrency: 4,
   * });
   * ```
   */
  async work(
    datasetId: string,
    handler: (claim: Claim, signal: AbortSignal) => Decision | Promise<Decision>,
    options: WorkOptions = {},
  ): Promise<WorkReport> {
    const opts: ResolvedWorkOptions = { ...WORK_DEFAULTS, ...options };
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
      throw new RangeError(
        `options.concurrency must be a positive integer; got ${opts.concurrency}`,
      );
    }
    const report: WorkReport = {
      submitted: 0,
      replayed: 0,
      skipped: 0,
      released: 0,
      lost: 0,
      budgetExhausted: false,
    };
    const stop = new AbortController();
    const onOuterAbort = () => stop.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    let failure: { error: unknown } | undefined;

    const loop = async (index: number) => {
      const annotatorId =
        typeof opts.annotatorId === 'function' ? opts.annotatorId(index) : opts.annotatorId;
      while (!stop.signal.aborted) {
        let claims: Claim[];
        try {
          claims = await this.claim(datasetId, 1, {
            leaseSeconds: opts.leaseSeconds,
            annotatorId,
            signal: stop.signal,
          });
        } catch (e) {
          if (stop.signal.aborted) return;
          // A lost claim answer: its query comes back when the lease ends; claim again later.
          if (e instanceof QuarryError && e.code === 'NETWORK_ERROR') {
            await sleep(opts.idleMs, stop.signal).catch(() => undefined);
            continue;
          }
          // A spent budget is an empty queue for this loop (units held by others may return).
          if (!(e instanceof QuarryError && e.code === 'BUDGET_EXHAUSTED')) throw e;
          report.budgetExhausted = true;
          claims = [];
        }
        const claim = claims[0];
        if (!claim) {
          if (opts.whenEmpty === 'stop') return;
          await sleep(opts.idleMs, stop.signal).catch(() => undefined);
          continue;
        }
        await this.#decide(claim, handler, opts, report, stop.signal);
      }
    };

    const loops = Array.from({ length: opts.concurrency }, (_, i) =>
      loop(i).catch((error: unknown) => {
        failure ??= { error };
        stop.abort(error);
      }),
    );
    await Promise.all(loops);
    options.signal?.removeEventListener('abort', onOuterAbort);
    if (failure) throw failure.error;
    return report;
  }

  async #decide(
    claim: Claim,
    handler: (claim: Claim, signal: AbortSignal) => Decision | Promise<Decision>,
    opts: ResolvedWorkOptions,
    report: WorkReport,
    signal: AbortSignal,
  ): Promise<void> {
    const stopRenewing = this.keepAlive(claim, opts.leaseSeconds);
    let decision: Decision;
    try {
      decision = await handler(claim, signal);
    } catch (e) {
      stopRenewing();
      await this.release(claim).catch(() => undefined);
      throw e;
    }
    stopRenewing();
    let outcome: WorkOutcome;
    try {
      if (typeof decision === 'string' || 'value' in decision) {
        const value = typeof decision === 'string' ? decision : decision.value;
        const result = await this.submit(claim, value);
        report.submitted++;
        if (result.replayed) report.replayed++;
        outcome = { kind: 'submitted', result };
      } else if ('skip' in decision) {
        await this.skip(claim, decision.reason);
        report.skipped++;
        outcome = { kind: 'skipped' };
      } else if ('release' in decision) {
        await this.release(claim);
        report.released++;
        outcome = { kind: 'released' };
      } else {
        const never: never = decision;
        throw new TypeError(`Unknown decision ${JSON.stringify(never)}`);
      }
    } catch (e) {
      if (!(e instanceof QuarryError && e.code === 'CONFLICT')) throw e;
      report.lost++;
      outcome = { kind: 'lost', error: e };
    }
    opts.onDecision?.(claim, outcome);
  }
}
