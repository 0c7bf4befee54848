import { EventEmitter, on } from 'node:events';
import type { Database } from '../db/database';
import { logger } from '../logger';
import { notify, notifyRoundState } from '../db/sql/events.sql';
import { run, type Queryable } from '../db/sql/statement';

/** What changed in a dataset's label queue. */
export enum QueueEventKind {
  CLAIMED = 'CLAIMED',
  RELEASED = 'RELEASED',
  SKIPPED = 'SKIPPED',
  ANSWERED = 'ANSWERED',
  ROUND_OPENED = 'ROUND_OPENED',
  ROUND_CLOSED = 'ROUND_CLOSED',
}

export interface QueueEvent {
  type: 'queue';
  kind: QueueEventKind;
  datasetId: string;
  /** The queries concerned (none for round events). */
  queryIds: string[];
  roundId: string | null;
  at: string;
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

/** A dataset's stopping signal fired: a model version's predictions have stabilised. */
export interface StoppingEvent {
  type: 'stopping';
  datasetId: string;
  modelId: string;
  version: number;
  meanKappa: number;
  at: string;
}

export type QuarryEvent = QueueEvent | RoundEvent | StoppingEvent;

type Unstamped = Omit<QueueEvent, 'at'> | Omit<RoundEvent, 'at'> | Omit<StoppingEvent, 'at'>;

/**
 * Events travel through the database (NOTIFY), so every Quarry process sharing it sees every
 * change, and a change published inside a transaction is seen only if, and when, it commits:
 * subscribers get events in commit order and never hear of work that was rolled back.
 */
export class EventBus {
  private readonly emitter = new EventEmitter();

  private unlisten: () => Promise<void> = async () => undefined;

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
    else if (event.type === 'stopping') this.emitter.emit(`stopping:${event.datasetId}`, event);
  }

  /** Ends every subscription and stops listening. */
  async stop(): Promise<void> {
    this.emitter.emit('stop');
    await this.unlisten();
  }
}
