import type { GraphQLTransport } from './client.js';
import {
  CancelRoundDocument,
  RoundDocument,
  RoundProgressDocument,
  RoundsDocument,
  StartRoundDocument,
  type RoundFieldsFragment,
  type RoundProgressSubscription,
  type StartRoundInput,
} from './gql/graphql.js';
import { pollUntil, taskFailed, type WaitOptions } from './wait.js';
import { collect, LIST_PAGE_SIZE, paginate, type PageOf } from './pages.js';

export type Round = RoundFieldsFragment;
export type RoundProgressEvent = RoundProgressSubscription['roundProgress'];

/** Options of {@link RoundsApi.start}. */
export interface StartRoundOptions extends WaitOptions {
  /** `'OPEN'` (default): resolve once its queries are queued; `'QUEUED'`: at once. */
  until?: 'OPEN' | 'QUEUED';
  /** Each progress event (scoring chunks, selecting, open), from the subscription. */
  onProgress?: (event: RoundProgressEvent) => void;
}

const WAITING = new Set(['QUEUED', 'SCORING', 'SELECTING']);

/** `client.rounds`: start, watch and cancel rounds. */
export class RoundsApi {
  constructor(private readonly t: GraphQLTransport) {}

  /**
   * Starts a round and, by default, resolves when it is OPEN: it listens to `roundProgress`
   * when a WebSocket is available and polls `round` meanwhile (so a round that opens before
   * the subscription is up is seen too). A round that ends FAILED or CANCELLED rejects with
   * `TASK_FAILED`; `BUDGET_EXHAUSTED` and `BAD_USER_INPUT` come from the start itself.
   */
  async start(input: StartRoundInput, opts: StartRoundOptions = {}): Promise<Round> {
    const { startRound } = await this.t.request(
      StartRoundDocument,
      { input },
      { signal: opts.signal },
    );
    if (opts.until === 'QUEUED') return startRound;
    return this.waitUntilOpen(startRound.id, opts);
  }

  /** Resolves with the round once it is OPEN (or already CLOSED); see {@link RoundsApi.start}. */
  async waitUntilOpen(id: string, opts: Omit<StartRoundOptions, 'until'> = {}): Promise<Round> {
    const round = await pollUntil(
      () => this.get(id),
      (r) => !WAITING.has(r.status),
      {
        ...opts,
        pollIntervalMs: opts.pollIntervalMs ?? this.t.pollIntervalMs,
        what: `Round ${id}`,
      },
      this.t.canSubscribe ? (wake) => this.#listen(id, wake, opts.onProgress) : undefined,
    );
    if (round.status === 'FAILED' || round.status === 'CANCELLED') {
      throw taskFailed(`Round ${id}`, round.status, round.error);
    }
    return round;
  }

  /** Cancels a queued or running round, or closes an open one. */
  async cancel(id: string): Promise<Round> {
    return (await this.t.request(CancelRoundDocument, { id })).cancelRound;
  }

  async get(id: string): Promise<Round> {
    return (await this.t.request(RoundDocument, { id })).round;
  }

  /** One page of a dataset's rounds, newest first (`first`: 0 to 1000, default 50). */
  async page(datasetId: string, first?: number, after?: string | null): Promise<PageOf<Round>> {
    return (await this.t.request(RoundsDocument, { datasetId, first, after })).rounds;
  }

  /** Every round of a dataset, newest first, fetched a page at a time as you iterate. */
  iterate(datasetId: string, pageSize = LIST_PAGE_SIZE): AsyncGenerator<Round, void, undefined> {
    return paginate((after) => this.page(datasetId, pageSize, after));
  }

  /** Every round of a dataset, newest first (all pages). */
  async list(datasetId: string): Promise<Round[]> {
    return collect(this.iterate(datasetId));
  }

  #listen(id: string, wake: () => void, onProgress?: (e: RoundProgressEvent) => void): () => void {
    const events = this.t.subscription(RoundProgressDocument, { roundId: id });
    void (async () => {
      try {
        for await (const { roundProgress } of events) {
          onProgress?.(roundProgress);
          if (!WAITING.has(roundProgress.status)) wake();
        }
      } catch {
        // The poll goes on without the subscription.
      }
    })();
    // An event sent before the server set the subscription up is lost; reading the round
    // over the same socket, after the subscribe message, covers that gap.
    void (async () => {
      try {
        for await (const { round } of this.t.subscription(RoundDocument, { id })) {
          if (!WAITING.has(round.status)) wake();
        }
      } catch {
        // As above: polling covers it.
      }
    })();
    return () => void events.return?.();
  }
}
