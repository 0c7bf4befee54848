import PgBoss from 'pg-boss';
import type { EntityManager } from 'typeorm';
import type { Database } from '../db/database';
import { logger } from '../logger';

/** The queue that runs rounds. */
export const ROUND_QUEUE = 'quarry-round';

export interface RoundJobData {
  roundId: string;
}

export interface JobQueueOptions {
  /** A job still active this long after it started is taken to have died, and is retried. */
  roundJobExpireSeconds: number;
  pollingSeconds: number;
}

/**
 * Quarry's jobs on pg-boss, in the same database as everything else (PostgreSQL, or PGlite
 * through the same single connection), so several processes share one queue and a job whose
 * process died is retried by another.
 */
export class JobQueue {
  private constructor(
    private readonly boss: PgBoss,
    private readonly opts: JobQueueOptions,
  ) {}

  static async start(db: Database, opts: JobQueueOptions): Promise<JobQueue> {
    // pg-boss runs its SQL through our pool: one connection on PGlite, so nothing interleaves.
    const pool = (
      db.ds.driver as unknown as {
        master: { query(t: string, v: unknown[]): Promise<{ rows: unknown[] }> };
      }
    ).master;
    const boss = new PgBoss({
      db: { executeSql: (text, values) => pool.query(text, values) },
      schedule: false,
      supervise: true,
      // Expired jobs are found by maintenance; keep it frequent enough to retry a dead round soon.
      maintenanceIntervalSeconds: Math.max(
        1,
        Math.min(60, Math.floor(opts.roundJobExpireSeconds / 2)),
      ),
    });
    boss.on('error', (err) => logger.error({ err }, 'job queue error'));
    await boss.start();
    await boss.createQueue(ROUND_QUEUE, {
      name: ROUND_QUEUE,
      retryLimit: 3,
      retryDelay: 1,
      expireInSeconds: opts.roundJobExpireSeconds,
    });
    return new JobQueue(boss, opts);
  }

  /** Enqueues a round inside the transaction that creates it: both happen, or neither. */
  async sendRound(m: EntityManager, data: RoundJobData): Promise<void> {
    await this.boss.send(ROUND_QUEUE, data, {
      db: { executeSql: async (text, values) => ({ rows: await m.query(text, values) }) },
      expireInSeconds: this.opts.roundJobExpireSeconds,
      retryLimit: 3,
    });
  }

  private roundWorkerId: string | undefined;

  /**
   * Tells this process's round worker to look for work now instead of at its next poll (after a
   * round was enqueued here). Other processes still find it at their next poll.
   */
  wakeRoundWorker(): void {
    if (this.roundWorkerId) this.boss.notifyWorker(this.roundWorkerId);
  }

  /** Runs round jobs in this process, one at a time. */
  async workRounds(handler: (data: RoundJobData) => Promise<void>): Promise<void> {
    this.roundWorkerId = await this.boss.work<RoundJobData>(
      ROUND_QUEUE,
      { pollingIntervalSeconds: this.opts.pollingSeconds, batchSize: 1 },
      async (jobs) => {
        for (const job of jobs) await handler(job.data);
      },
    );
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, close: false });
  }
}
