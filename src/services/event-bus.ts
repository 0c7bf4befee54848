import { EventEmitter, on } from 'node:events';
import type { Database } from '../db/database';
import { logger } from '../logger';
import { notify, notifyRoundState } from '../db/sql/events.sql';
import { run, type Queryable } from '../db/sql/statement';
import { WebhookEventKind } from '../entities/enums';

/** What changed in a dataset's label queue. */
export enum QueueEventKind {
  CLAIMED = 'CLAIMED',
  RELEASED = 'RELEASED',
  SKIPPED = 'SKIPPED',
  ANSWERED = 'ANSWERED',
  ROUND_OPENED = 'ROUND_OPENED',
  ROUND_CLOSED = 'ROUND_CLOSED',
  /** Claims whose lease ran out unanswered: their queries are claimable again. */
  LEASE_EXPIRED = 'LEASE_EXPIRED',
  /** The first event of a `queueChanged(snapshot: true)`: the queue's counts as it starts. */
  SNAPSHOT = 'SNAPSHOT',
}

/** A queue's counts, as a snapshot event gives them. */
export interface QueueCounts {
  /** Open queries (claimable or held). */
  open: number;
  /** Open queries held by a live claim. */
  held: number;
  /** Answered queries. */
  answered: number;
}

export interface QueueEvent {
  type: 'queue';
  kind: QueueEventKind;
  datasetId: string;
  /** The queries concerned (none for round events). */
  queryIds: string[];
  roundId: string | null;
  at: string;
  /** SNAPSHOT only. */
  counts?: QueueCounts;
}

export interface RoundEvent {
  type: 'round';
  roundId: string;
  datasetId: string;
  status: string;
  scored: number;
  total: number | null;
  error: string | null;
  at: string;
}

/** An API key was revoked: its subscriptions end on every process. */
export interface KeyEvent {
  type: 'key';
  keyId: string;
  at: string;
}

/** A dataset's stopping signal fired: a model version's predictions have stabilised. */
export interface StoppingEvent {
  type: 'stopping';
  datasetId: string;
  modelId: string;
  version: number;
  meanKappa: number;
  at: string;
}

export type QuarryEvent = QueueEvent | RoundEvent | KeyEvent | StoppingEvent;

type Unstamped = Omit<QueueEvent, 'at'> | Omit<RoundEvent, 'at'> | Omit<StoppingEvent, 'at'>;

/** Something that happened to a dataset that webhooks may hear of. */
export interface Occurrence {
  datasetId: string;
  kind: WebhookEventKind;
  data: Record<string, unknown>;
}

/** Records occurrences in the caller's transaction (the webhook outbox). */
export type OccurrenceSink = (m: Queryable, o: Occurrence) => Promise<void>;

/** The webhook event of a queue event, if any. */
const WEBHOOK_EVENT_OF: Partial<Record<QueueEventKind, WebhookEventKind>> = {
  [QueueEventKind.ANSWERED]: WebhookEventKind.QUERY_ANSWERED,
  [QueueEventKind.ROUND_OPENED]: WebhookEventKind.ROUND_OPENED,
  [QueueEventKind.ROUND_CLOSED]: WebhookEventKind.ROUND_CLOSED,
};

/**
 * Events travel through the database (NOTIFY), so every Quarry process sharing it sees every
 * change, and a change published inside a transaction is seen only if, and when, it commits:
 * subscribers get events in commit order and never hear of work that was rolled back.
 */
export class EventBus {
  private readonly emitter = new EventEmitter();

  private unlisten: () => Promise<void> = async () => undefined;

  private sink: OccurrenceSink | undefined;

  private constructor(readonly channel: string) {
    // Every subscription is a listener; there is no leak to warn about.
    this.emitter.setMaxListeners(0);
  }

  static async start(db: Database): Promise<EventBus> {
    const bus = new EventBus(db.eventChannel);
    bus.unlisten = await db.listen((payload) => bus.deliver(payload));
    return bus;
  }

  /** Publishes an event with the caller's transaction (or at once, outside one). */
  async publish(m: Queryable, event: Unstamped) {
    await run(m, notify(...this.notification(event)));
    if (event.type === 'queue') await this.occurredInQueue(m, event);
  }

  /** Where occurrences go (the webhook outbox); set once at start-up. */
  setOccurrenceSink(sink: OccurrenceSink): void {
    this.sink = sink;
  }

  /**
   * Records that something happened to a dataset, in the caller's transaction: webhooks hear of
   * it only if, and when, it commits.
   */
  async occurred(m: Queryable, o: Occurrence): Promise<void> {
    await this.sink?.(m, o);
  }

  /** The occurrence of a queue event published from a statement of its own (see notification). */
  async occurredInQueue(m: Queryable, event: Omit<QueueEvent, 'at'>): Promise<void> {
    const kind = WEBHOOK_EVENT_OF[event.kind];
    if (!kind || !this.sink) return;
    await this.sink(m, {
      datasetId: event.datasetId,
      kind,
      data: { roundId: event.roundId, queryIds: event.queryIds },
    });
  }

  /** Tells every process that a key was revoked (its subscriptions end). */
  async publishKeyRevoked(m: Queryable, keyId: string): Promise<void> {
    const event: KeyEvent = { type: 'key', keyId, at: new Date().toISOString() };
    await run(m, notify(this.channel, JSON.stringify(event)));
  }

  /** Calls `onRevoked` with each key revoked on any process; returns the function that stops. */
  onKeyRevoked(onRevoked: (keyId: string) => void): () => void {
    this.emitter.on('key-revoked', onRevoked);
    return () => this.emitter.off('key-revoked', onRevoked);
  }

  /**
   * The channel and payload of `pg_notify` for an event, for callers that publish it from a
   * statement of their own (saving a round trip on a hot path).
   */
  notification(event: Unstamped): [string, string] {
    return [this.channel, JSON.stringify({ ...event, at: new Date().toISOString() })];
  }

  /**
   * Publishes a round's current state (read in the same statement, so two updates committed in
   * turn are reported in turn).
   */
  async publishRound(m: Queryable, roundId: string): Promise<void> {
    await run(m, notifyRoundState(this.channel, roundId));
  }

  /** Events of one dataset's queue, until the iterator is returned or the bus stops. */
  queueEvents(datasetId: string): AsyncIterableIterator<QueueEvent> {
    return this.subscribe<QueueEvent>(`queue:${datasetId.toLowerCase()}`);
  }

  /** Progress and state changes of one round. */
  roundEvents(roundId: string): AsyncIterableIterator<RoundEvent> {
    return this.subscribe<RoundEvent>(`round:${roundId.toLowerCase()}`);
  }

  /** A dataset's stopping-signal events. */
  stoppingEvents(datasetId: string): AsyncIterableIterator<StoppingEvent> {
    return this.subscribe<StoppingEvent>(`stopping:${datasetId.toLowerCase()}`);
  }

  private subscribe<E>(topic: string): AsyncIterableIterator<E> {
    const abort = new AbortController();
    const source = on(this.emitter, topic, { signal: abort.signal });
    const stop = () => abort.abort();
    this.emitter.once('stop', stop);
    const emitter = this.emitter;
    const iterator: AsyncIterableIterator<E> = {
      async next() {
        try {
          const r = await source.next();
          if (r.done) return { done: true, value: undefined };
          return { done: false, value: (r.value as unknown[])[0] as E };
        } catch (e) {
          if ((e as Error).name === 'AbortError') return { done: true, value: undefined };
          throw e;
        }
      },
      async return() {
        emitter.off('stop', stop);
        abort.abort();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  private deliver(payload: string): void {
    let event: QuarryEvent;
    try {
      event = JSON.parse(payload) as QuarryEvent;
    } catch (e) {
      logger.warn({ err: e }, 'ignored a malformed event');
      return;
    }
    if (event.type === 'queue') this.emitter.emit(`queue:${event.datasetId}`, event);
    else if (event.type === 'round') this.emitter.emit(`round:${event.roundId}`, event);
    else if (event.type === 'key') this.emitter.emit('key-revoked', event.keyId);
    else if (event.type === 'stopping') this.emitter.emit(`stopping:${event.datasetId}`, event);
  }

  /** Ends every subscription and stops listening. */
  async stop(): Promise<void> {
    this.emitter.emit('stop');
    await this.unlisten();
  }
}
