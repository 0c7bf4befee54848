/**
 * Rounds become CLOSED once every query of theirs is settled (answered, or cancelled): the
 * documented end of OPEN, which completes `roundProgress` subscriptions and tells the queue
 * (ROUND_CLOSED) and webhooks.
 *
 * The check runs after the settling transaction commits, never inside it: two answers settling
 * a round's last two queries at once each see the other's query still OPEN inside their own
 * transaction, and neither would close the round; checked after commit, the later check sees
 * both. Checks are gathered for {@link CLOSE_BATCH_MS} and run as one statement (nothing on the
 * answer's own path); every {@link SWEEP_MS} and at start-up one statement closes any settled
 * round a stopped process left open.
 */
import type { DataSource } from 'typeorm';
import { closeSettledRounds } from '../db/sql/rounds.sql';
import { run } from '../db/sql/statement';
import { logger } from '../logger';
import { QueueEventKind, type EventBus } from './event-bus';

export const CLOSE_BATCH_MS = 200;
export const SWEEP_MS = 60_000;

export class RoundCloser {
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private closing: Promise<void> = Promise.resolve();

  constructor(
    private readonly ds: DataSource,
    private readonly events: EventBus,
  ) {}

  /** Starts the periodic sweep, after one at once. */
  start(): Promise<void> {
    this.sweeper = setInterval(() => void this.close(null), SWEEP_MS);
    this.sweeper.unref();
    return this.close(null);
  }

  /** A query of `roundId` was settled by a transaction that has committed. */
  settled(roundId: string): void {
    this.pending.add(roundId);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, CLOSE_BATCH_MS);
    this.timer.unref();
  }

  /** Checks the rounds gathered so far now (shutdown, tests). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const ids = [...this.pending];
    this.pending.clear();
    return ids.length > 0 ? this.close(ids) : this.closing;
  }

  /** Stops the sweep and checks what is gathered. */
  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.flush();
  }

  private close(ids: string[] | null): Promise<void> {
    this.closing = this.closing.then(() =>
      this.ds
        .transaction(async (m) => {
          const closed = await run<{ id: string; datasetId: string }>(m, closeSettledRounds(ids));
          for (const r of closed) {
            await this.events.publish(m, {
              type: 'queue',
              kind: QueueEventKind.ROUND_CLOSED,
              datasetId: r.datasetId,
              roundId: r.id,
              queryIds: [],
            });
            await this.events.publishRound(m, r.id);
          }
        })
        .catch((err: unknown) => {
          // Checked again by the next sweep.
          logger.warn({ err, rounds: ids }, 'closing settled rounds failed');
        }),
    );
    return this.closing;
  }
}
