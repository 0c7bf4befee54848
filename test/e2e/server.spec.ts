import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type QuarryConfig } from '../../src/config';
import * as database from '../../src/db/database';
import { JobQueue } from '../../src/jobs/job-queue';
import { PluginRegistrationError } from '../../src/plugins/registry';
import { startServer } from '../../src/server';
import { EventBus } from '../../src/services/event-bus';
import { InferencePool } from '../../src/workers/inference.pool';
import { TrainerPool } from '../../src/workers/trainer.pool';
import { lifecycleLog } from '../fixtures/plugin-kinds/lifecycle-log';
import { codeOf, describeEachDb } from '../helpers/server';

describeEachDb(
  'the HTTP server',
  (t) => {
    it('answers liveness and readiness', async () => {
      const base = t().url.replace(/\/graphql$/, '');
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', database: t().backend });
    });

    it('masks unexpected errors: no SQL, no stack, code INTERNAL_SERVER_ERROR', async () => {
      const services = t().server.services;
      const original = services.datasets.list;
      services.datasets.list = async () => {
        throw new Error('relation "secret_table" does not exist: SELECT * FROM secret_table');
      };
      try {
        const res = await t().gql('{ datasets { nodes { id } } }');
        expect(codeOf(res)).toBe('INTERNAL_SERVER_ERROR');
        expect(JSON.stringify(res)).not.toContain('secret_table');
        expect(JSON.stringify(res)).not.toMatch(/stacktrace|at .*\.js/);
      } finally {
        services.datasets.list = original;
      }
    });

    it('refuses a request body over the limit with PAYLOAD_TOO_LARGE', async () => {
      const res = await fetch(t().url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t().adminKey}` },
        body: JSON.stringify({
          query: '{ datasets { nodes { id } } }',
          variables: { pad: 'x'.repeat(400_000) },
        }),
      });
      expect(res.status).toBe(413);
      const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('allows browser-based labelling tools on other origins (CORS)', async () => {
      const res = await fetch(t().url, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://labeller.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
      expect(res.status).toBeLessThan(300);
      expect(res.headers.get('access-control-allow-origin')).toBeTruthy();
    });
  },
  { maxRequestBytes: 300_000, maxModelBytes: 200_000 },
);

describe('server start-up and shutdown', () => {
  const fixture = (name: string) =>
    path.resolve(__dirname, '../fixtures/plugin-kinds', `${name}.js`);
  const everyKind = (module: string): Partial<QuarryConfig> => ({
    strategyModules: [module],
    trainerModules: [module],
    streamPolicyModules: [module],
    synthesisModules: [module],
  });
  const configWith = (overrides: Partial<QuarryConfig>) =>
    loadConfig(
      {},
      { port: 0, host: '127.0.0.1', dataDir: 'memory://', inferenceThreads: 1, ...overrides },
    );
  const kinds = ['strategies', 'trainers', 'policies', 'methods'];
  const inits = kinds.flatMap((k) => [`${k}:first init`, `${k}:second init`]);
  const destroys = [...kinds]
    .reverse()
    .flatMap((k) => [`${k}:second destroy`, `${k}:first destroy`]);

  beforeEach(() => {
    lifecycleLog.length = 0;
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('stops on a bad plugin module before the database, the job queue or a worker pool starts', async () => {
    const dataDir = path.join(os.tmpdir(), `quarry-never-${process.pid}-${Date.now()}`);
    const opened = jest.spyOn(database, 'openDatabase');
    const listening = jest.spyOn(EventBus, 'start');
    const queued = jest.spyOn(JobQueue, 'start');
    for (const modules of [
      { strategyModules: [fixture('bad-schema')] },
      { trainerModules: [fixture('no-export')] },
      { streamPolicyModules: [fixture('duplicate')] },
      { synthesisModules: ['/nowhere/plugin.js'] },
    ]) {
      await expect(startServer(configWith({ dataDir, ...modules }))).rejects.toThrow(
        PluginRegistrationError,
      );
    }
    expect(opened).not.toHaveBeenCalled();
    expect(listening).not.toHaveBeenCalled();
    expect(queued).not.toHaveBeenCalled();
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  it('stops on a plugin whose init fails, destroying the plugins started before it', async () => {
    const opened = jest.spyOn(database, 'openDatabase');
    const config = configWith({
      ...everyKind(fixture('lifecycle')),
      synthesisModules: [fixture('failing-init')],
    });
    await expect(startServer(config)).rejects.toThrow('"broken" of');
    expect(opened).not.toHaveBeenCalled();
    expect(lifecycleLog).toEqual([
      ...inits.slice(0, 6),
      'methods:first init',
      'methods:first destroy',
      ...destroys.slice(2),
    ]);
  });

  it('runs plugin init before anything else and destroy, in reverse, after everything else', async () => {
    const order: string[] = [];
    const realOpen = database.openDatabase;
    jest.spyOn(database, 'openDatabase').mockImplementation(async (opts) => {
      order.push(`database open after ${lifecycleLog.length} plugin events`);
      const db = await realOpen(opts);
      const close = db.close.bind(db);
      db.close = async () => {
        order.push(`database close after ${lifecycleLog.length} plugin events`);
        await close();
      };
      return db;
    });
    const server = await startServer(configWith(everyKind(fixture('lifecycle'))), {
      bootstrapAdminKey: false,
    });
    expect(lifecycleLog).toEqual(inits);
    await server.stop();
    expect(lifecycleLog).toEqual([...inits, ...destroys]);
    expect(order).toEqual([
      `database open after ${inits.length} plugin events`,
      `database close after ${inits.length} plugin events`,
    ]);
  });

  it('stops what it started when a late step fails (the port is taken)', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    const jobsStopped = jest.spyOn(JobQueue.prototype, 'stop');
    const eventsStopped = jest.spyOn(EventBus.prototype, 'stop');
    const inferenceDestroyed = jest.spyOn(InferencePool.prototype, 'destroy');
    const trainersDestroyed = jest.spyOn(TrainerPool.prototype, 'destroy');
    let closed = 0;
    const realOpen = database.openDatabase;
    jest.spyOn(database, 'openDatabase').mockImplementation(async (opts) => {
      const db = await realOpen(opts);
      const close = db.close.bind(db);
      db.close = async () => {
        closed += 1;
        await close();
      };
      return db;
    });
    try {
      await expect(
        startServer(configWith({ port, ...everyKind(fixture('lifecycle')) }), {
          bootstrapAdminKey: false,
        }),
      ).rejects.toThrow(/EADDRINUSE/);
    } finally {
      taken.close();
    }
    expect(jobsStopped).toHaveBeenCalledTimes(1);
    expect(eventsStopped).toHaveBeenCalledTimes(1);
    expect(inferenceDestroyed).toHaveBeenCalledTimes(1);
    expect(trainersDestroyed).toHaveBeenCalledTimes(1);
    expect(closed).toBe(1);
    expect(lifecycleLog).toEqual([...inits, ...destroys]);
  });
});
