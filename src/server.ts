import 'reflect-metadata';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import cors from 'cors';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import { graphqlUploadExpress } from 'graphql-upload-minimal';
import { stringify as csvStringify } from 'csv-stringify/sync';
import type { QuarryConfig } from './config';
import { openDatabase, type Database } from './db/database';
import { MIGRATIONS } from './db/migrations';
import { Dataset, type ApiKey } from './entities';
import { ErrorCode, QuarryError } from './errors';
import { formatError } from './http/errors';
import { keyFromHeaders } from './http/keys';
import { createServices, type Services } from './services';
import { buildQuarrySchema } from './schema/build';
import { createLoaders, type GraphQLContext } from './resolvers/context';
import { logger } from './logger';
import { StrategyRegistry } from './strategies/registry';
import { JobQueue } from './jobs/job-queue';
import { InferencePool } from './workers/inference.pool';
import { RoundRunner } from './jobs/round.runner';
import { EventBus } from './services/event-bus';
import { TrainerRegistry } from './plugins/trainers/registry';
import { TrainerPool } from './workers/trainer.pool';
import { TaskRunner } from './jobs/task.runner';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { SubscriptionContext } from './resolvers/queue.resolver';

export interface QuarryServer {
  /** e.g. `http://127.0.0.1:4000/graphql` */
  url: string;
  port: number;
  db: Database;
  services: Services;
  registry: StrategyRegistry;
  /** Starts running round jobs, when the server was started with `runJobs: false`. */
  startJobs(): Promise<void>;
  /** Stops taking requests, finishes those under way, closes the database. */
  stop(): Promise<void>;
}

export interface StartServerOptions {
  /** Use this open database instead of opening the one in the configuration. */
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

async function migrationsApplied(db: Database): Promise<boolean> {
  const rows: { name: string }[] = await db.ds.query('SELECT name FROM migrations');
  const done = new Set(rows.map((r) => r.name));
  return MIGRATIONS.every((m) => done.has((m as unknown as { name: string }).name));
}

/** Starts Quarry's HTTP server: GraphQL at /graphql, /healthz, /readyz and the label export. */
export async function startServer(
  config: QuarryConfig,
  opts: StartServerOptions = {},
): Promise<QuarryServer> {
  // Plugins first: a bad strategy module stops start-up before anything else is touched.
  const registry = StrategyRegistry.load(config.strategyModules);
  const trainers = TrainerRegistry.load(config.trainerModules);
  const schema = await buildQuarrySchema();
  const db =
    opts.db ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolSize: config.poolSize,
    }));
  // Listening starts first, before any transaction could be open on the embedded database's
  // single connection (PGlite runs LISTEN on that same session).
  let events: EventBus;
  try {
    events = await EventBus.start(db);
  } catch (e) {
    if (!opts.db) await db.close().catch(() => undefined);
    throw e;
  }
  const jobs = await JobQueue.start(db, {
    roundJobExpireSeconds: config.roundJobExpireSeconds,
    pollingSeconds: config.jobPollingSeconds,
  });
  const inference = new InferencePool({
    threads: config.inferenceThreads,
    maxQueue: config.inferenceMaxQueue,
  });
  const services = createServices(db, config, { registry, jobs, events, trainers, inference });
  if (opts.bootstrapAdminKey ?? true) await announceInitialKey(services, config, db);
  const runner = new RoundRunner(
    db,
    config,
    registry,
    inference,
    (roundId, afterSeconds) => jobs.recheckRound({ roundId }, afterSeconds),
    events,
  );
  // Training runs in a worker thread of its own, never on the event loop.
  const trainerPool = new TrainerPool(trainers, {
    threads: config.trainerThreads,
    maxQueue: config.trainerMaxQueue,
  });
  const tasks = new TaskRunner(db, config, trainerPool, services.models, { inference, events });

  const app = express();
  app.disable('x-powered-by');
  const httpServer = http.createServer(app);
  // Idle keep-alive connections are closed by the client first (undici: 4 s, browsers: longer)
  // rather than by us: a server closing a socket just as a client reuses it resets that
  // request (ECONNRESET). 65 s, as behind common load balancers; headers must come sooner.
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;
  // Subscriptions: the GraphQL over WebSocket protocol (graphql-ws) on the same path. The key
  // comes in the connection_init payload ({ authorization: "Bearer qk_…" }) or the upgrade
  // request's Authorization header.
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
  const wsCleanup = useServer<Record<string, unknown> | undefined, { key?: ApiKey }>(
    {
      schema,
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const header =
          (params.authorization as string | undefined) ??
          (params.Authorization as string | undefined) ??
          ctx.extra.request.headers.authorization;
        try {
          ctx.extra.key = await services.apiKeys.authenticate(
            keyFromHeaders({ authorization: header }),
          );
          return true;
        } catch {
          return false;
        }
      },
      context: (ctx): SubscriptionContext => ({
        key: ctx.extra.key!,
        services,
        registry,
        trainers,
        loaders: createLoaders(services, datasetsById),
        subscribe: {
          queue: (datasetId) => events.queueEvents(datasetId),
          round: (roundId) => events.roundEvents(roundId),
        },
      }),
      // Validation errors of a subscribe message: graphql-js's own, passed on as they are.
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((e) => ({ ...e.toJSON(), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })),
      // Results go through the same error masking as HTTP: Quarry's errors pass, the rest is
      // logged and masked. Errors without a cause are graphql-js's (e.g. bad variables).
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors) return result;
        return {
          ...result,
          errors: result.errors.map((e) =>
            e.originalError
              ? formatError(e.toJSON(), e)
              : { ...e.toJSON(), extensions: { code: ErrorCode.BAD_USER_INPUT } },
          ),
        };
      },
    },
    wsServer,
  );

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError,
    includeStacktraceInErrorResponses: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await wsCleanup.dispose();
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  const datasetsById = async (ids: readonly string[]) => {
    const rows = await db.ds
      .getRepository(Dataset)
      .createQueryBuilder('d')
      .where('d.id = ANY(:ids)', { ids })
      .getMany();
    const byId = new Map(rows.map((d) => [d.id, d]));
    return ids.map((id) => byId.get(id) ?? null);
  };
  const authenticate = async (req: express.Request) => {
    try {
      return await services.apiKeys.authenticate(keyFromHeaders(req.headers));
    } catch (e) {
      if (e instanceof QuarryError) e.extensions.http = { status: 401 };
      throw e;
    }
  };

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await db.ds.query('SELECT 1');
      if (!(await migrationsApplied(db))) {
        res.status(503).json({ status: 'unavailable', reason: 'migrations are not applied' });
        return;
      }
      res.json({ status: 'ready', database: db.kind });
    } catch (e) {
      logger.warn({ err: e }, 'readiness check failed');
      res.status(503).json({ status: 'unavailable', reason: 'database unreachable' });
    }
  });

  app.get('/export/labels', async (req, res) => {
    const format = String(req.query.format ?? 'jsonl');
    const datasetId = String(req.query.datasetId ?? '');
    const fail = (status: number, code: string, message: string) =>
      res.status(status).json({ errors: [{ message, extensions: { code } }] });
    let started = false;
    try {
      const key = await authenticate(req);
      if (format !== 'jsonl' && format !== 'csv') {
        fail(400, ErrorCode.BAD_USER_INPUT, 'format must be jsonl or csv');
        return;
      }
      const columns = [
        'itemId',
        'externalId',
        'label',
        'source',
        'confidence',
        'annotatorId',
        'modelId',
        'split',
        'origin',
        'createdAt',
      ] as const;
      for await (const batch of services.labels.exportCurrent(key, datasetId)) {
        if (!started) {
          res.status(200).type(format === 'csv' ? 'text/csv' : 'application/x-ndjson');
          if (format === 'csv') res.write(columns.join(',') + '\n');
          started = true;
        }
        const out =
          format === 'csv'
            ? csvStringify(
                batch.map((r) =>
                  columns.map((c) => (c === 'createdAt' ? r.createdAt.toISOString() : r[c])),
                ),
              )
            : batch
                .map((r) => JSON.stringify(Object.fromEntries(columns.map((c) => [c, r[c]]))))
                .join('\n') + '\n';
        if (!res.write(out)) await new Promise((resolve) => res.once('drain', resolve));
      }
      if (!started) {
        res.status(200).type(format === 'csv' ? 'text/csv' : 'application/x-ndjson');
        if (format === 'csv') res.write(columns.join(',') + '\n');
      }
      res.end();
    } catch (e) {
      if (started) {
        logger.error({ err: e }, 'label export failed part-way');
        res.destroy(e as Error);
      } else if (e instanceof QuarryError) {
        const code = String(e.extensions.code);
        const status = { UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404 }[code] ?? 400;
        fail(status, code, e.message);
      } else {
        logger.error({ err: e }, 'label export failed');
        fail(500, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
      }
    }
  });

  app.use(
    '/graphql',
    cors(),
    // +1: the multipart parser flags a file of exactly maxFileSize as truncated; the resolver
    // itself refuses anything over maxModelBytes.
    graphqlUploadExpress({ maxFileSize: config.maxModelBytes + 1, maxFiles: 1 }),
    express.json({ limit: config.maxRequestBytes }),
    expressMiddleware(apollo, {
      context: async ({ req }) => ({
        key: await authenticate(req),
        services,
        registry,
        trainers,
        loaders: createLoaders(services, datasetsById),
      }),
    }),
  );
  app.use(
    (err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
      const e = err as { type?: string; status?: number; message?: string };
      if (res.headersSent) return next(err);
      if (e.type === 'entity.too.large' || e.status === 413) {
        res.status(413).json({
          errors: [
            {
              message: `The request is larger than ${config.maxRequestBytes} bytes (QUARRY_MAX_REQUEST_BYTES).`,
              extensions: { code: ErrorCode.PAYLOAD_TOO_LARGE },
            },
          ],
        });
        return;
      }
      if (e.status && e.status >= 400 && e.status < 500) {
        res.status(e.status).json({
          errors: [{ message: e.message ?? 'Bad request', extensions: { code: 'BAD_REQUEST' } }],
        });
        return;
      }
      logger.error({ err }, 'unhandled HTTP error');
      res.status(500).json({
        errors: [
          {
            message: 'Internal server error',
            extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
          },
        ],
      });
    },
  );

  let working: Promise<void> | undefined;
  const startJobs = () =>
    (working ??= (async () => {
      await jobs.workRounds(
        (data) => runner.run(data.roundId),
        (data) => runner.giveUp(data.roundId),
      );
      await jobs.workTasks((data) => tasks.run(data.taskId));
    })());
  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, () => resolve());
    });
    // Work is taken only once the server is up, so a failed start never strands a claimed round.
    if (opts.runJobs ?? true) await startJobs();
  } catch (e) {
    httpServer.close();
    await apollo.stop().catch(() => undefined);
    await jobs.stop().catch(() => undefined);
    await inference.destroy().catch(() => undefined);
    await trainerPool.destroy().catch(() => undefined);
    await events.stop().catch(() => undefined);
    if (!opts.db) await db.close().catch(() => undefined);
    throw e;
  }
  const port = (httpServer.address() as AddressInfo).port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${shownHost}:${port}/graphql`;
  logger.info(
    { url, database: db.kind, location: db.location },
    `Quarry is serving GraphQL at ${url}`,
  );

  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    db,
    services,
    registry,
    startJobs,
    stop: () =>
      (stopping ??= (async () => {
        await apollo.stop();
        // Running rounds stop at their next chunk and stay queued for a retry.
        runner.interrupt();
        await jobs.stop();
        await inference.destroy();
        await trainerPool.destroy();
        await events.stop();
        if (!opts.db) await db.close();
      })()),
  };
}
