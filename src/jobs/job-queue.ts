import PgBoss from 'pg-boss';
import type { EntityManager } from 'typeorm';
import type { Queryable } from '../db/sql/statement';
import type { Database } from '../db/database';
import { logger } from '../logger';
import { withStartupLock } from '../db/startup-lock';

/** The queue that runs rounds. */
export const ROUND_QUEUE = 'quarry-round';
/** Where a round's job goes when its retries are used up. */
export const ROUND_GAVE_UP_QUEUE = 'quarry-round-gave-up';
/** Retries of a round's job (each process death or shutdown mid-round uses one). */
export const ROUND_RETRY_LIMIT = 5;

/** The queue of round shards: one job per id range of a sharded round's pool. */
export const ROUND_SHARD_QUEUE = 'quarry-round-shard';
/** Where a shard's job goes when its retries are used up (the shard, and its round, fail). */
export const ROUND_SHARD_GAVE_UP_QUEUE = 'quarry-round-shard-gave-up';

/** The queue that runs training and simulation tasks. */
export const TASK_QUEUE = 'quarry-task';
/** Retries of a task's job, as many as a round's (a process death or a shutdown mid-task uses one: a rolling restart of several processes must not fail a long simulation). */
export const TASK_RETRY_LIMIT = 5;
/** Where a task's job goes when its retries are used up. */
export const TASK_GAVE_UP_QUEUE = 'quarry-task-gave-up';

/** The queue that sends webhook deliveries (one attempt per run; retried with backoff). */
export const WEBHOOK_QUEUE = 'quarry-webhook';

/** The queue of lease checks: one job per claim, due when its lease ends. */
export const LEASE_QUEUE = 'quarry-lease-expiry';

/** How long claims' lease checks wait to be enqueued together, ms. */
export const LEASE_BATCH_MS = 200;
/** Most claim tokens one lease check job carries. */
const LEASE_BATCH_MAX_TOKENS = 1000;

export interface LeaseJobData {
  datasetId: string;
  /** The claim tokens of one claim. */
  tokens: string[];
}

export interface WebhookJobData {
  deliveryId: string;
}

export interface TaskJobData {
  taskId: string;
}

export interface RoundJobData {
  roundId: string;
}

export interface RoundShardJobData {
  roundId: string;
  shardIndex: number;
}

export interface JobQueueOptions {
  /**
   * A round or task job still active this long after it started is taken to have died, and is
   * retried (the retry takes the work over only once its heartbeat is stale).
   */
  roundJobExpireSeconds: number;
  pollingSeconds: number;
  /** Attempts of one webhook delivery (the first and its retries). Default 5. */
  webhookMaxAttempts?: number;
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
    // Processes started together set pg-boss up one after the other: its queue creation
    // (DDL on the job table) deadlocks with another process's at the same moment.
    await withStartupLock(db.ds, db.kind, () => JobQueue.setUp(boss, opts));
    return new JobQueue(boss, opts);
  }

  private static async setUp(boss: PgBoss, opts: JobQueueOptions): Promise<void> {
    await boss.start();
    await boss.createQueue(ROUND_GAVE_UP_QUEUE, { name: ROUND_GAVE_UP_QUEUE });
    const roundQueue = {
      name: ROUND_QUEUE,
      retryLimit: ROUND_RETRY_LIMIT,
      retryDelay: 1,
      expireInSeconds: opts.roundJobExpireSeconds,
      // A round whose job runs out of retries lands here, to be marked FAILED (not left running).
      deadLetter: ROUND_GAVE_UP_QUEUE,
    };
    await boss.createQueue(ROUND_QUEUE, roundQueue);
    await boss.updateQueue(ROUND_QUEUE, roundQueue);
    await boss.createQueue(TASK_GAVE_UP_QUEUE, { name: TASK_GAVE_UP_QUEUE });
    await boss.createQueue(ROUND_SHARD_GAVE_UP_QUEUE, { name: ROUND_SHARD_GAVE_UP_QUEUE });
    // A shard whose process dies expires and is retried by any process (the shard's result is
    // stored once, by whichever run finishes first).
    const shardQueue = {
      ...roundQueue,
      name: ROUND_SHARD_QUEUE,
      deadLetter: ROUND_SHARD_GAVE_UP_QUEUE,
    };
    await boss.createQueue(ROUND_SHARD_QUEUE, shardQueue);
    await boss.updateQueue(ROUND_SHARD_QUEUE, shardQueue);
    const taskQueue = {
      name: TASK_QUEUE,
      retryLimit: TASK_RETRY_LIMIT,
      retryDelay: 1,
      // A task whose job runs out of retries lands here, to be marked FAILED (not left QUEUED).
      deadLetter: TASK_GAVE_UP_QUEUE,
      // Tasks beat like rounds: a retried job leaves a task still beating elsewhere alone (and
      // looks again later), so a long simulation may outlive its job's expiry.
      expireInSeconds: opts.roundJobExpireSeconds,
    };
    await boss.createQueue(TASK_QUEUE, taskQueue);
    await boss.updateQueue(TASK_QUEUE, taskQueue);
    const webhookQueue = {
      name: WEBHOOK_QUEUE,
      retryLimit: (opts.webhookMaxAttempts ?? 5) - 1,
      // Exponential: 1-2 s before the second attempt, 2-4 s before the third, and so on.
      retryDelay: 1,
      retryBackoff: true,
      expireInSeconds: 5 * 60,
    };
    await boss.createQueue(LEASE_QUEUE, { name: LEASE_QUEUE, retryLimit: 2, retryDelay: 1 });
    await boss.createQueue(WEBHOOK_QUEUE, webhookQueue);
    await boss.updateQueue(WEBHOOK_QUEUE, webhookQueue);
  }

  /** Enqueues a second look at a round, in `afterSeconds` (it was running elsewhere). */
  async recheckRound(data: RoundJobData, afterSeconds: number): Promise<void> {
    await this.boss.send(ROUND_QUEUE, data, {
      startAfter: afterSeconds,
      expireInSeconds: this.opts.roundJobExpireSeconds,
      retryLimit: ROUND_RETRY_LIMIT,
    });
  }

  /** Enqueues a round inside the transaction that creates it: both happen, or neither. */
  async sendRound(m: EntityManager, data: RoundJobData): Promise<void> {
    await this.boss.send(ROUND_QUEUE, data, {
      db: { executeSql: async (text, values) => ({ rows: await m.query(text, values) }) },
      expireInSeconds: this.opts.roundJobExpireSeconds,
      retryLimit: ROUND_RETRY_LIMIT,
    });
  }

  /** Enqueues the shards of a round, for any process to score; wakes this process's worker. */
  async sendShards(roundId: string, shardIndexes: number[]): Promise<void> {
    await this.boss.insert(
      shardIndexes.map((shardIndex) => ({
        name: ROUND_SHARD_QUEUE,
        data: { roundId, shardIndex } satisfies RoundShardJobData,
        expireInSeconds: this.opts.roundJobExpireSeconds,
        retryLimit: ROUND_RETRY_LIMIT,
        retryDelay: 1,
        deadLetter: ROUND_SHARD_GAVE_UP_QUEUE,
      })),
    );
    if (this.shardWorkerId) this.boss.notifyWorker(this.shardWorkerId);
  }

  private shardWorkerId: string | undefined;

  /**
   * Scores round shards in this process, one at a time; `gaveUp` gets the shards whose jobs
   * failed more often than the retry limit allows.
   */
  async workShards(
    handler: (data: RoundShardJobData) => Promise<void>,
    gaveUp: (data: RoundShardJobData) => Promise<void>,
  ): Promise<void> {
    await this.boss.work<RoundShardJobData>(
      ROUND_SHARD_GAVE_UP_QUEUE,
      { pollingIntervalSeconds: this.opts.pollingSeconds, batchSize: 1 },
      async (jobs) => {
        for (const job of jobs) await gaveUp(job.data);
      },
    );
    this.shardWorkerId = await this.boss.work<RoundShardJobData>(
      ROUND_SHARD_QUEUE,
      { pollingIntervalSeconds: this.opts.pollingSeconds, batchSize: 1 },
      async (jobs) => {
        for (const job of jobs) {
          try {
            await handler(job.data);
          } catch (err) {
            // pg-boss retries the job; say why, or a shard that keeps failing looks like one
            // whose processes keep stopping.
            logger.warn({ err, ...job.data }, 'round shard job failed; it is retried');
            throw err;
          }
        }
      },
    );
  }

  /** Enqueues a second look at a task, in `afterSeconds` (it was running elsewhere). */
  async recheckTask(data: TaskJobData, afterSeconds: number): Promise<void> {
    await this.boss.send(TASK_QUEUE, data, { startAfter: afterSeconds });
  }

  /** Enqueues a task inside the transaction that creates it. */
  async sendTask(m: EntityManager, data: TaskJobData): Promise<void> {
    await this.boss.send(TASK_QUEUE, data, {
      db: { executeSql: async (text, values) => ({ rows: await m.query(text, values) }) },
    });
  }

  /** Enqueues webhook deliveries inside the transaction that wrote them. */
  async sendWebhookDeliveries(m: Queryable, deliveryIds: string[]): Promise<void> {
    await this.boss.insert(
      deliveryIds.map((deliveryId) => ({ name: WEBHOOK_QUEUE, data: { deliveryId } })),
      { db: { executeSql: async (text, values) => ({ rows: await m.query(text, values) }) } },
    );
  }

  /**
   * Enqueues the check of leases, due when they end, inside the caller's transaction (a lease
   * checked again after a renewal): whichever process takes it reports the leases that ran out
   * (queueChanged LEASE_EXPIRED).
   */
  async sendLeaseCheck(m: Queryable, data: LeaseJobData, afterSeconds: number): Promise<void> {
    await this.boss.send(LEASE_QUEUE, data, {
      startAfter: afterSeconds,
      db: { executeSql: async (text, values) => ({ rows: await m.query(text, values) }) },
    });
  }

  /** Claims' lease checks not yet enqueued, by dataset and lease length. */
  private readonly leaseBatch = new Map<string, LeaseJobData & { afterSeconds: number }>();
  private leaseTimer: NodeJS.Timeout | undefined;
  private leaseFlush: Promise<void> = Promise.resolve();

  /**
   * Enqueues the check of a claim's leases (due when they end) with the checks of the other
   * claims of the next {@link LEASE_BATCH_MS}, as one job per dataset and lease length, in one
   * statement: a claim pays no job insert of its own. Called once the claim committed. A process
   * killed before the batch went out loses those claims' LEASE_EXPIRED events (their queries
   * become claimable again all the same when the leases end).
   */
  queueLeaseCheck(data: LeaseJobData, afterSeconds: number): void {
    const id = `${data.datasetId}:${afterSeconds}`;
    let batch = this.leaseBatch.get(id);
    if (!batch || batch.tokens.length >= LEASE_BATCH_MAX_TOKENS) {
      if (batch) this.leaseBatch.delete(id);
      if (batch) void this.sendLeaseBatch([batch]);
      batch = { datasetId: data.datasetId, tokens: [], afterSeconds };
      this.leaseBatch.set(id, batch);
    }
    batch.tokens.push(...data.tokens);
    this.leaseTimer ??= setTimeout(() => void this.flushLeaseChecks(), LEASE_BATCH_MS).unref();
  }

  /** Enqueues the lease checks batched so far. */
  flushLeaseChecks(): Promise<void> {
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    this.leaseTimer = undefined;
    const batches = [...this.leaseBatch.values()];
    this.leaseBatch.clear();
    return this.sendLeaseBatch(batches);
  }

  private sendLeaseBatch(batches: (LeaseJobData & { afterSeconds: number })[]): Promise<void> {
    if (batches.length === 0) return this.leaseFlush;
    const now = Date.now();
    this.leaseFlush = this.leaseFlush
      .then(() =>
        this.boss.insert(
          batches.map(({ datasetId, tokens, afterSeconds }) => ({
            name: LEASE_QUEUE,
            data: { datasetId, tokens },
            startAfter: new Date(now + afterSeconds * 1000),
            retryLimit: 2,
            retryDelay: 1,
          })),
        ),
      )
      .catch((err: unknown) => logger.error({ err }, 'lease checks could not be enqueued'));
    return this.leaseFlush;
  }

  /** Runs lease checks in this process. */
  async workLeaseChecks(handler: (data: LeaseJobData) => Promise<void>): Promise<void> {
    await this.boss.work<LeaseJobData>(
      LEASE_QUEUE,
      { pollingIntervalSeconds: this.opts.pollingSeconds, batchSize: 10 },
      async (jobs) => {
        for (const job of jobs) await handler(job.data);
      },
    );
  }

  private webhookWorkerId: string | undefined;

  wakeWebhookWorker(): void {
    if (this.webhookWorkerId) this.boss.notifyWorker(this.webhookWorkerId);
  }

  /** Sends webhook deliveries in this process, a few at a time. */
  async workWebhooks(handler: (data: WebhookJobData) => Promise<void>): Promise<void> {
    this.webhookWorkerId = await this.boss.work<WebhookJobData>(
      WEBHOOK_QUEUE,
      { pollingIntervalSeconds: this.opts.pollingSeconds, batchSize: 1 },
      async (jobs) => {
        for (const job of jobs) await handler(job.data);
      },
    );
  }

  private taskWorkerId: string | undefined;

  wakeTaskWorker(): void {
    if (this.taskWorkerId) this.boss.notifyWorker(this.taskWorkerId);
  }

  /**
   * Runs training, simulation and auto-label tasks in this process, one at a time; `gaveUp` gets
   * the tasks whose jobs failed more often than the retry limit allows.
   */
  async workTasks(
    handler: (data: TaskJobData) => Promise<void>,
    gaveUp: (data: TaskJobData) => Promise<void>,
  ): Promise<void> {
    await this.boss.work<TaskJobData>(
      TASK_GAVE_UP_QUEUE,
      { pollingIntervalSeconds: this.opts.pollingSeconds, batchSize: 1 },
      async (jobs) => {
        for (const job of jobs) await gaveUp(job.data);
      },
    );
    this.taskWorkerId = await this.boss.work<TaskJobData>(
      TASK_QUEUE,
      { pollingIntervalSeconds: this.opts.pollingSeconds, batchSize: 1 },
      async (jobs) => {
        for (const job of jobs) await handler(job.data);
      },
    );
  }

  private roundWorkerId: string | undefined;

  /**
   * Tells this process's round worker to look for work now instead of at its next poll (after a
   * round was enqueued here). Other processes still find it at their next poll.
   */
  wakeRoundWorker(): void {
    if (this.roundWorkerId) this.boss.notifyWorker(this.roundWorkerId);
  }

  /**
   * Runs round jobs in this process, one at a time; `gaveUp` gets the rounds whose jobs failed
   * more often than the retry limit allows.
   */
  async workRounds(
    handler: (data: RoundJobData) => Promise<void>,
    gaveUp: (data: RoundJobData) => Promise<void>,
  ): Promise<void> {
    await this.boss.work<RoundJobData>(
      ROUND_GAVE_UP_QUEUE,
      { pollingIntervalSeconds: this.opts.pollingSeconds, batchSize: 1 },
      async (jobs) => {
        for (const job of jobs) await gaveUp(job.data);
      },
    );
    this.roundWorkerId = await this.boss.work<RoundJobData>(
      ROUND_QUEUE,
      { pollingIntervalSeconds: this.opts.pollingSeconds, batchSize: 1 },
      async (jobs) => {
        for (const job of jobs) await handler(job.data);
      },
    );
  }

  /**
   * This process takes no new job from now on (shutdown); jobs under way still end normally,
   * so a job handed back is retried by another process, not taken again here.
   */
  async stopTakingWork(): Promise<void> {
    for (const queue of [
      ROUND_QUEUE,
      ROUND_GAVE_UP_QUEUE,
      ROUND_SHARD_QUEUE,
      ROUND_SHARD_GAVE_UP_QUEUE,
      TASK_QUEUE,
      TASK_GAVE_UP_QUEUE,
    ]) {
      await this.boss.offWork(queue);
    }
  }

  async stop(): Promise<void> {
    await this.flushLeaseChecks();
    await this.boss.stop({ graceful: true, wait: true, close: false });
  }
}
