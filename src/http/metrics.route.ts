import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from 'express';
import { Gauge, Registry } from 'prom-client';
import type { QuarryConfig } from '../config';
import type { Database } from '../db/database';
import * as metricsSql from '../db/sql/metrics.sql';
import { run } from '../db/sql/statement';
import { ApiKeyRole } from '../entities';
import { logger } from '../logger';
import { instruments } from '../metrics';
import type { Services } from '../services';
import type { InferencePool } from '../workers/inference.pool';
import { keyFromHeaders } from './keys';

/** What the gauges read when scraped. */
export interface MetricsSources {
  db: Database;
  inference?: InferencePool;
}

interface PgPoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/**
 * The gauges of one server, read when scraped: queue depth per dataset, rounds and tasks by
 * status, pg-boss jobs by queue and state (all from the database, so every process reports the
 * same shared figures), and this process's inference pool and database pool.
 */
export function serverRegistry(sources: MetricsSources): Registry {
  const registry = new Registry();
  const { db, inference } = sources;
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    collect: (g: Gauge<string>) => Promise<void> | void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        try {
          this.reset();
          await collect(this);
        } catch (err) {
          logger.warn({ err, metric: name }, 'a metric could not be read');
        }
      },
    });

  gauge(
    'quarry_queue_open_queries',
    'Open label queries (claimable or held), by dataset.',
    ['dataset_id'],
    async (g) => {
      const rows = await run<{ datasetId: string; open: number; held: number }>(
        db.ds,
        metricsSql.queueDepths(),
      );
      for (const r of rows) g.set({ dataset_id: r.datasetId }, r.open);
    },
  );
  gauge(
    'quarry_queue_held_queries',
    'Open label queries held by a live claim, by dataset.',
    ['dataset_id'],
    async (g) => {
      const rows = await run<{ datasetId: string; open: number; held: number }>(
        db.ds,
        metricsSql.queueDepths(),
      );
      for (const r of rows) g.set({ dataset_id: r.datasetId }, r.held);
    },
  );
  gauge('quarry_rounds', 'Rounds by status.', ['status'], async (g) => {
    for (const r of await run<{ status: string; n: number }>(db.ds, metricsSql.roundsByStatus()))
      g.set({ status: r.status }, r.n);
  });
  gauge('quarry_tasks', 'Tasks by kind and status.', ['kind', 'status'], async (g) => {
    const rows = await run<{ kind: string; status: string; n: number }>(
      db.ds,
      metricsSql.tasksByStatus(),
    );
    for (const r of rows) g.set({ kind: r.kind, status: r.status }, r.n);
  });
  gauge(
    'quarry_job_queue_jobs',
    "pg-boss jobs of Quarry's queues, by queue and state (created, retry, active, ...).",
    ['queue', 'state'],
    async (g) => {
      const rows = await run<{ name: string; state: string; n: number }>(
        db.ds,
        metricsSql.jobsByState(),
      );
      for (const r of rows) g.set({ queue: r.name, state: r.state }, r.n);
    },
  );
  if (inference) {
    gauge('quarry_inference_pool_threads', 'Inference worker threads.', [], (g) =>
      g.set(inference.threads),
    );
    gauge('quarry_inference_pool_running', 'Inference tasks running in a worker now.', [], (g) =>
      g.set(inference.running),
    );
    gauge('quarry_inference_pool_queue_size', 'Inference tasks waiting for a worker.', [], (g) =>
      g.set(inference.queueSize),
    );
    gauge(
      'quarry_inference_pool_utilization',
      "Share of the inference pool's capacity used since it started (0 to 1).",
      [],
      (g) => g.set(inference.utilization),
    );
  }
  gauge(
    'quarry_db_pool_connections',
    'Database connections of this process by state (total, idle, waiting clients); PGlite is one connection.',
    ['state'],
    (g) => {
      const pool = (db.ds.driver as unknown as { master?: Partial<PgPoolCounts> }).master;
      if (db.kind === 'postgres' && typeof pool?.totalCount === 'number') {
        g.set({ state: 'total' }, pool.totalCount);
        g.set({ state: 'idle' }, pool.idleCount ?? 0);
        g.set({ state: 'waiting' }, pool.waitingCount ?? 0);
      } else {
        g.set({ state: 'total' }, 1);
      }
    },
  );
  return registry;
}

function sameSecret(given: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

/** The Prometheus text of the process instruments and this server's gauges. */
async function exposition(registry: Registry): Promise<{ type: string; text: string }> {
  const merged = Registry.merge([instruments, registry]);
  return { type: merged.contentType, text: await merged.metrics() };
}

/**
 * `GET /metrics` on the main port: for `Authorization: Bearer <QUARRY_METRICS_TOKEN>` or an
 * ADMIN API key; anything else is 401 (no key or token) or 403.
 */
export function metricsRoute(
  registry: Registry,
  config: QuarryConfig,
  services: Services,
): RequestHandler {
  return async (req, res) => {
    const given = keyFromHeaders(req.headers);
    let allowed = false;
    if (given && config.metricsToken && sameSecret(given, config.metricsToken)) allowed = true;
    else if (given) {
      const key = await services.apiKeys.authenticate(given).catch(() => undefined);
      if (!key) {
        res.status(401).type('text/plain').send('unknown or revoked key or token\n');
        return;
      }
      allowed = key.role === ApiKeyRole.ADMIN;
    } else {
      res
        .status(401)
        .type('text/plain')
        .send('send Authorization: Bearer <QUARRY_METRICS_TOKEN or an ADMIN key>\n');
      return;
    }
    if (!allowed) {
      res.status(403).type('text/plain').send('only the metrics token or an ADMIN key\n');
      return;
    }
    const { type, text } = await exposition(registry);
    res.type(type).send(text);
  };
}

/**
 * A listener of its own for `GET /metrics` without authentication (QUARRY_METRICS_PORT), for a
 * scraper on a private network; bound to QUARRY_METRICS_HOST (127.0.0.1 by default).
 */
export async function startMetricsServer(
  registry: Registry,
  port: number,
  host: string,
): Promise<{ port: number; stop(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    exposition(registry).then(
      ({ type, text }) => res.writeHead(200, { 'content-type': type }).end(text),
      (err: unknown) => {
        logger.error({ err }, 'metrics could not be collected');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
