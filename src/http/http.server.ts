import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import express from 'express';
import cors from 'cors';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import { GraphQLError } from 'graphql';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { QuarryConfig } from '../config';
import type { Database } from '../db/database';
import { Dataset, type ApiKey } from '../entities';
import { ErrorCode, QuarryError } from '../errors';
import type { Plugins } from '../plugins/load-plugins';
import { createLoaders, type GraphQLContext } from '../resolvers/context';
import type { SubscriptionContext } from '../resolvers/queue.resolver';
import { buildQuarrySchema } from '../schema/build';
import type { Services } from '../services';
import type { EventBus } from '../services/event-bus';
import { formatError, httpErrorHandler } from './errors';
import { exportLabelsRoute } from './export.route';
import { healthRoutes } from './health.route';
import { webRoutes } from './web.route';
import { keyFromHeaders } from './keys';
import { entitiesByIds } from '../services/by-key';
import { addressOf, bodyParsersByRole, edgeGate, gateKey } from './edge-gate';
import { operationLimits } from './limits';
import { rateLimitedError, RateLimits } from './rate-limit';
import { Drain, SHUTDOWN_CLOSE_CODE } from './shutdown';
import type { InferencePool } from '../workers/inference.pool';
import { corsOptions, DocumentPolicy, originAllowed } from './graphql-policy';
import { metricsRoute, serverRegistry, startMetricsServer } from './metrics.route';
import { budgetExhaustedPlugin, requestLog, requestLogPlugin, requestRecord } from './request-log';
import { SubscriptionKeys } from './subscription-keys';

/** What the HTTP layer serves from. */
export interface HttpDeps {
  config: QuarryConfig;
  db: Database;
  services: Services;
  plugins: Plugins;
  events: EventBus;
  /** The inference pool, for its metrics. */
  inference?: InferencePool;
}

/** A listening HTTP server. */
export interface HttpServer {
  port: number;
  /** Starts answering new requests 503 SHUTTING_DOWN (those under way go on). */
  drain(): void;
  /** The port of the separate /metrics listener, when QUARRY_METRICS_PORT is set. */
  metricsPort?: number;
  /** Stops taking requests and finishes those under way (and the subscriptions). */
  stop(): Promise<void>;
}

/**
 * Serves GraphQL (HTTP and graphql-ws subscriptions) at /graphql, /healthz, /readyz and the label
 * export, and listens on `config.host:config.port`. A failure to listen stops what it started.
 */
export async function startHttpServer(deps: HttpDeps): Promise<HttpServer> {
  const { config, db, services, events } = deps;
  const { strategies: registry, trainers } = deps.plugins;
  const schema = await buildQuarrySchema();
  const limits = operationLimits(schema, config.edge);
  const rateLimits = await RateLimits.create(db, config.edge);
  const drain = new Drain();
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(config.slowRequestMs));
  const policy = new DocumentPolicy(config);
  const metricsRegistry = serverRegistry({ db, inference: deps.inference });
  const subscriptionKeys = new SubscriptionKeys(events, services, config.subscriptionKeyCheckMs);
  app.use(drain.middleware());
  const httpServer = http.createServer(app);
  // Idle keep-alive connections are closed by the client first (undici: 4 s, browsers: longer)
  // rather than by us: a server closing a socket just as a client reuses it resets that
  // request (ECONNRESET). 65 s, as behind common load balancers; headers must come sooner.
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;

  const datasetsById = (ids: readonly string[]) => entitiesByIds(db.ds, Dataset, ids);

  // Subscriptions: the GraphQL over WebSocket protocol (graphql-ws) on the same path. The key
  // comes in the connection_init payload ({ authorization: "Bearer qk_…" }) or the upgrade
  // request's Authorization header.
  const wsServer = new WebSocketServer({ noServer: true });
  // Upgrades are taken here rather than by the WebSocket server itself, so that one arriving
  // while the server drains is refused with a 503 like any other request.
  httpServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/graphql') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (drain.draining) {
      drain.refuseUpgrade(socket);
      return;
    }
    wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req));
  });
  // Open subscriptions end as the drain starts, with a code that makes clients reconnect (to
  // another process): waiting for the process to stop would only delay them.
  drain.onStart(() => {
    for (const client of wsServer.clients) {
      client.close(SHUTDOWN_CLOSE_CODE, 'Service Restart: this server is stopping, reconnect');
    }
  });
  const wsCleanup = useServer<Record<string, unknown> | undefined, { key?: ApiKey }>(
    {
      schema,
      onConnect: async (ctx) => {
        if (!originAllowed(config, ctx.extra.request.headers.origin)) return false;
        const address = addressOf(ctx.extra.request);
        if (await rateLimits.addressBlocked(address)) return false;
        const params = ctx.connectionParams ?? {};
        const header =
          (params.authorization as string | undefined) ??
          (params.Authorization as string | undefined) ??
          ctx.extra.request.headers.authorization;
        try {
          ctx.extra.key = await services.apiKeys.authenticate(
            keyFromHeaders({ authorization: header }),
          );
          subscriptionKeys.add(ctx.extra.key.id, ctx.extra.socket);
          return true;
        } catch {
          await rateLimits.authFailed(address);
          return false;
        }
      },
      // The same limits as over HTTP: tokens, depth, aliases and cost, then the key's rates.
      onSubscribe: async (ctx, _id, payload) => {
        const key = ctx.extra.key!;
        try {
          const { args, cost } = limits.prepare(payload);
          // The configuration's document rules (persisted documents only, introspection off)
          // hold on WebSocket too.
          const refused = policy.check(key, args.document, schema);
          if (refused.length > 0) return refused;
          const tooMany = await rateLimits.request(key.role, key.id);
          if (tooMany) return [rateLimitedError('requests', tooMany)];
          const tooCostly = await rateLimits.spend(key.role, key.id, cost);
          if (tooCostly) return [rateLimitedError('cost', tooCostly)];
          return { schema, ...args };
        } catch (e) {
          if (Array.isArray(e)) return e as GraphQLError[];
          if (e instanceof GraphQLError) return [e];
          throw e;
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
          stopping: (datasetId) => events.stoppingEvents(datasetId),
        },
      }),
      // Validation errors of a subscribe message: graphql-js's own, passed on as they are.
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((e) =>
          e instanceof QuarryError
            ? formatError(e.toJSON(), e)
            : {
                ...e.toJSON(),
                extensions: { code: e.extensions?.code ?? 'GRAPHQL_VALIDATION_FAILED' },
              },
        ),
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
    introspection: config.introspection,
    persistedQueries: config.apq ? undefined : false,
    parseOptions: limits.parseOptions,
    validationRules: limits.validationRules,
    plugins: [
      requestLogPlugin(),
      budgetExhaustedPlugin(),
      policy.plugin(),
      limits.apolloPlugin<GraphQLContext>(async ({ key }, cost) => {
        const refusal = await rateLimits.spend(key.role, key.id, cost);
        if (!refusal) return;
        const e = rateLimitedError('cost', refusal);
        e.extensions.http = {
          status: 429,
          headers: new HeaderMap([['retry-after', String(refusal.retryAfterSeconds)]]),
        };
        throw e;
      }),
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // Quarry sets no cache hints; Apollo's default cache-control plugin would still wrap every
      // field's resolver and allocate a policy per resolved field (a page of 50 queries: ~600).
      ApolloServerPluginCacheControlDisabled(),
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

  app.use(healthRoutes(db));
  app.get('/metrics', metricsRoute(metricsRegistry, config, services));
  app.use(webRoutes(config.webDir));
  const gate = edgeGate({ config, apiKeys: services.apiKeys, rateLimits });
  // The export is read as it streams: the gate (key, rates) before it, like /graphql.
  app.get(
    '/export/labels',
    gate,
    exportLabelsRoute(services, async (req) => gateKey(req.res!)),
  );
  app.use(
    '/graphql',
    cors(corsOptions(config)),
    // Authentication, rates and sizes on the headers: nothing of the body is read before.
    gate,
    bodyParsersByRole(config),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => ({
        request: requestRecord(req),
        key: gateKey(res),
        services,
        registry,
        trainers,
        loaders: createLoaders(services, datasetsById),
      }),
    }),
  );
  app.use(httpErrorHandler(config.maxRequestBytes));

  let metricsServer: { port: number; stop(): Promise<void> } | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, () => resolve());
    });
    if (config.metricsPort !== undefined) {
      metricsServer = await startMetricsServer(
        metricsRegistry,
        config.metricsPort,
        config.metricsHost,
      );
    }
  } catch (e) {
    httpServer.close();
    subscriptionKeys.stop();
    await rateLimits.stop();
    await apollo.stop().catch(() => undefined);
    throw e;
  }
  return {
    port: (httpServer.address() as AddressInfo).port,
    metricsPort: metricsServer?.port,
    drain: () => drain.start(),
    stop: async () => {
      subscriptionKeys.stop();
      await metricsServer?.stop();
      await apollo.stop();
      await rateLimits.stop();
    },
  };
}
