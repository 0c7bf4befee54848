import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import type { QuarryConfig } from './config';
import { openDatabase, type Database } from './db/database';
import { startHttpServer } from './http/http.server';
import { JobQueue } from './jobs/job-queue';
import { RoundRunner } from './jobs/round.runner';
import { sweepFeatureCache } from './jobs/feature-housekeeping';
import { TaskRunner } from './jobs/task.runner';
import { LeaseChecker } from './jobs/lease.checker';
import { WebhookSender } from './jobs/webhook.sender';
import { logger } from './logger';
import { loadPlugins } from './plugins/load-plugins';
import { createServices, type Services } from './services';
import { EventBus } from './services/event-bus';
import { startTracing, traceJob } from './tracing';
import type { StrategyRegistry } from './strategies/registry';
import { InferencePool } from './workers/inference.pool';
import { TrainerPool } from './workers/trainer.pool';

export interface QuarryServer {
  /** e.g. `http://127.0.0.1:4000/graphql` */
  url: string;
  port: number;
  /** The separate /metrics listener's port, when QUARRY_METRICS_PORT is set. */
  metricsPort?: number;
  db: Database;
  services: Services;
  registry: StrategyRegistry;
  /** Starts running round jobs, when the server was started with `runJobs: false`. */
  startJobs(): Promise<void>;
  /**
   * Stops: first new requests are answered 503 SHUTTING_DOWN and running rounds and tasks are
   * handed back at once (another process takes them over within seconds); after `drainMs`
   * (default 0; `quarry serve` waits QUARRY_SHUTDOWN_DRAIN_MS) everything stops in the reverse
   * order of start-up: HTTP (requests under way finish), job work, worker pools, the job queue,
   * the database, then the plugins' `destroy`.
   */
  stop(opts?: { drainMs?: number }): Promise<void>;
}

export interface StartServerOptions {
  /** Use this open database instead of opening the one in the configuration (it is not closed). */
  db?: Database;
  /** Create the first ADMIN key when the database has none (default true). */
  bootstrapAdminKey?: boolean;
  /** Run round jobs in this process (default true); false only enqueues them. */
  runJobs?: boolean;
}

/** Where the first ADMIN key of an embedded database is written. */
export function initialAdminKeyPath(dataDir: string): string {
  return path.join(dataDir, 'initial-admin.key');
}

async function announceInitialKey(
  services: Services,
  config: QuarryConfig,
  db: Database,
): Promise<void> {
  const secret = await services.apiKeys.bootstrapAdminKey();
  if (!secret) return;
  if (db.kind === 'pglite' && !config.dataDir.startsWith('memory://')) {
    const file = initialAdminKeyPath(config.dataDir);
    fs.writeFileSync(file, secret + '\n', { mode: 0o600 });
    logger.warn(
      { file },
      `Created the first ADMIN API key; it is in ${file} (readable by you only).`,
    );
  } else {
    logger.warn(
      { apiKey: secret },
      'Created the first ADMIN API key. It is shown this once: store it now.',
    );
  }
}

/**
 * What start-up has started, to stop in the reverse order: on `stop()`, or when a later step of
 * start-up fails. Every stop runs even when another fails; the first failure is thrown at the
 * end.
 */
class Started {
  private readonly stops: { what: string; stop: () => Promise<void> }[] = [];

  add(what: string, stop: () => Promise<void>): void {
    this.stops.push({ what, stop });
  }

  async stopAll(): Promise<void> {
    let failure: unknown;
    while (this.stops.length > 0) {
      const { what, stop } = this.stops.pop()!;
      try {
        await stop();
      } catch (e) {
        logger.error({ err: e }, `stopping the ${what} failed`);
        failure ??= e;
      }
    }
    if (failure !== undefined) throw failure;
  }
}

/**
 * Starts Quarry: plugins, database, job queue, worker pools, services, then HTTP (GraphQL at
 * /graphql, /healthz, /readyz and the label export), and finally takes job work. A step that
 * fails stops every step before it, in reverse, so nothing is left running.
 */
export async function startServer(
  config: QuarryConfig,
  opts: StartServerOptions = {},
): Promise<QuarryServer> {
  const started = new Started();
  try {
    // Plugins first: a bad plugin module stops start-up before anything else is touched.
    const plugins = loadPlugins(config);
    await plugins.init({ config, logger });
    started.add('plugins', () => plugins.destroy());
    // OpenTelemetry only when an OTLP endpoint is configured; stopped last, so it flushes all.
    const stopTracing = await startTracing();
    if (stopTracing) started.add('tracing', stopTracing);

    const db =
      opts.db ??
      (await openDatabase({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        poolSize: config.poolSize,
      }));
    if (!opts.db) started.add('database', () => db.close());
    // Listening starts first, before any transaction could be open on the embedded database's
    // single connection (PGlite runs LISTEN on that same session).
    const events = await EventBus.start(db);
    started.add('event bus', () => events.stop());

    const jobs = await JobQueue.start(db, {
      roundJobExpireSeconds: config.roundJobExpireSeconds,
      pollingSeconds: config.jobPollingSeconds,
      webhookMaxAttempts: config.webhookMaxAttempts,
    });
    let jobsStopped: Promise<void> | undefined;
    const stopJobs = () => (jobsStopped ??= jobs.stop());
    started.add('job queue', stopJobs);

    const inference = new InferencePool({
      threads: config.inferenceThreads,
      maxQueue: config.inferenceMaxQueue,
    });
    started.add('inference pool', () => inference.destroy());
    // Training runs in a worker thread of its own, never on the event loop.
    const trainerPool = new TrainerPool(plugins.trainers, {
      threads: config.trainerThreads,
      maxQueue: config.trainerMaxQueue,
    });
    started.add('trainer pool', () => trainerPool.destroy());

    const services = createServices(db, config, {
      registry: plugins.strategies,
      trainers: plugins.trainers,
      streamPolicies: plugins.streamPolicies,
      synthesisMethods: plugins.synthesisMethods,
      jobs,
      events,
      inference,
    });
    if (opts.bootstrapAdminKey ?? true) await announceInitialKey(services, config, db);
    // Rounds whose queries were all settled while no process ran close now, then as they settle.
    await services.roundCloser.start();
    started.add('round closer', () => services.roundCloser.stop());
    if (config.featureCacheDir) {
      // Files of datasets deleted while no process ran, or by another process with its own cache.
      await sweepFeatureCache(config.featureCacheDir, db).catch((e: unknown) =>
        logger.warn({ err: e }, 'sweeping the feature cache failed'),
      );
    }
    const runner = new RoundRunner(
      db,
      config,
      plugins.strategies,
      inference,
      (roundId, afterSeconds) => jobs.recheckRound({ roundId }, afterSeconds),
      events,
      (roundId, shardIndexes) => jobs.sendShards(roundId, shardIndexes),
    );
    const tasks = new TaskRunner(
      db,
      config,
      trainerPool,
      services.models,
      { inference, events, featureCache: runner.featureCache },
      (taskId, afterSeconds) => jobs.recheckTask({ taskId }, afterSeconds),
    );
    let handingBack: Promise<void> | undefined;
    // This process takes no more jobs, then hands back those it runs: their retries go elsewhere.
    const handBack = () =>
      (handingBack ??= jobs
        .stopTakingWork()
        .then(() => Promise.all([runner.interrupt(), tasks.interrupt()]))
        .then(() => undefined));
    // Job work stops before the worker pools it uses: running rounds stop at their next chunk
    // and stay queued for a retry.
    started.add('job work', async () => {
      await handBack();
      await stopJobs();
      await runner.settle();
    });

    const http = await startHttpServer({ config, db, services, plugins, events, inference });
    const leases = new LeaseChecker(db, events, jobs);
    const webhookSender = new WebhookSender(db, services.webhooks, {
      maxAttempts: config.webhookMaxAttempts,
      timeoutMs: config.webhookTimeoutMs,
    });
    started.add('HTTP server', () => http.stop());

    let working: Promise<void> | undefined;
    const startJobs = () =>
      (working ??= (async () => {
        await jobs.workRounds(
          (data) =>
            traceJob('quarry.round', { 'quarry.round_id': data.roundId }, () =>
              runner.run(data.roundId),
            ),
          (data) => runner.giveUp(data.roundId),
        );
        await jobs.workShards(
          (data) =>
            traceJob(
              'quarry.round_shard',
              { 'quarry.round_id': data.roundId, 'quarry.shard_index': data.shardIndex },
              () => runner.runShard(data.roundId, data.shardIndex),
            ),
          (data) => runner.giveUpShard(data.roundId, data.shardIndex),
        );
        await jobs.workTasks(
          (data) =>
            traceJob('quarry.task', { 'quarry.task_id': data.taskId }, () =>
              tasks.run(data.taskId),
            ),
          (data) => tasks.giveUp(data.taskId),
        );
        await jobs.workLeaseChecks((data) => leases.check(data));
        await jobs.workWebhooks((data) => webhookSender.send(data.deliveryId));
      })());
    // Work is taken only once the server is up, so a failed start never strands a claimed round.
    if (opts.runJobs ?? true) await startJobs();

    const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    const url = `http://${shownHost}:${http.port}/graphql`;
    logger.info(
      { url, database: db.kind, location: db.location },
      `Quarry is serving GraphQL at ${url}`,
    );
    let stopping: Promise<void> | undefined;
    return {
      url,
      port: http.port,
      metricsPort: http.metricsPort,
      db,
      services,
      registry: plugins.strategies,
      startJobs,
      stop: (stopOpts = {}) =>
        (stopping ??= (async () => {
          http.drain();
          await handBack();
          if (stopOpts.drainMs) await new Promise((r) => setTimeout(r, stopOpts.drainMs));
          await started.stopAll();
        })()),
    };
  } catch (e) {
    await started.stopAll().catch(() => undefined);
    throw e;
  }
}
