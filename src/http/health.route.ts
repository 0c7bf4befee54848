import type { Router } from 'express';
import express from 'express';
import type { Database } from '../db/database';
import { MIGRATIONS } from '../db/migrations';
import { appliedMigrations, ping } from '../db/sql/health.sql';
import { run } from '../db/sql/statement';
import { logger } from '../logger';

async function migrationsApplied(db: Database): Promise<boolean> {
  const rows = await run<{ name: string }>(db.ds, appliedMigrations());
  const done = new Set(rows.map((r) => r.name));
  return MIGRATIONS.every((m) => done.has((m as unknown as { name: string }).name));
}

/**
 * `GET /healthz` (the process answers) and `GET /readyz` (the database answers and every
 * migration is applied; 503 otherwise).
 */
export function healthRoutes(db: Database): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    try {
      await run(db.ds, ping());
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
  return router;
}
