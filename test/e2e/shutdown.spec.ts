import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import WebSocket from 'ws';
import { openDatabase } from '../../src/db/database';
import { ApiKeyRole } from '../../src/entities';
import { ApiKeyService } from '../../src/services/api-key.service';
import { backends, createEmptyPgDatabase, type BackendName } from '../helpers/db';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';
import { testModel } from '../helpers/models';
import { gqlTo, serve, serveAll, stopProcess, type Served } from '../helpers/process';
import { withQueryList } from '../helpers/queues';
import { waitFor } from '../helpers/wait-for';

const SLOW_MARGIN = path.resolve(__dirname, '../fixtures/plugins/slow-margin.js');
const SLOW_CENTROID = path.resolve(__dirname, '../fixtures/trainers/slow-centroid.js');

/** A database for `quarry serve` processes, with keys of the given roles made beforehand. */
async function servedDatabase(
  backend: BackendName,
  roles: ApiKeyRole[],
): Promise<{ env: NodeJS.ProcessEnv; keys: string[]; drop: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-shutdown-'));
  const env: NodeJS.ProcessEnv = {
    QUARRY_DATA_DIR: path.join(dir, 'data'),
    QUARRY_MODEL_CACHE_DIR: path.join(dir, 'models'),
    QUARRY_INFERENCE_THREADS: '1',
    QUARRY_JOB_POLLING_SECONDS: '1',
    DATABASE_URL: '',
  };
  let dropPg: (() => Promise<void>) | undefined;
  if (backend === 'postgres') {
    const pg = await createEmptyPgDatabase();
    env.DATABASE_URL = pg.url;
    dropPg = pg.drop;
  }
  const db = await openDatabase({
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.QUARRY_DATA_DIR!,
  });
  const keys: string[] = [];
  try {
    const apiKeys = new ApiKeyService(db.ds);
    for (const role of roles) keys.push((await apiKeys.create({ name: `k ${role}`, role })).secret);
  } finally {
    await db.close();
  }
  return {
    env,
    keys,
    drop: async () => {
      await dropPg?.();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const post = (s: Served, key: string, query: string) =>
  fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query }),
  });

for (const backend of backends()) {
  describe(`a server told to stop [${backend}]`, () => {
    let db: Awaited<ReturnType<typeof servedDatabase>>;
    let server: Served | undefined;

    beforeAll(async () => {
      db = await servedDatabase(backend, [ApiKeyRole.ADMIN]);
    });

    afterAll(async () => {
      if (server && server.child.exitCode === null) await stopProcess(server, 'SIGKILL');
      await db.drop();
    });

    it('answers new requests 503 SHUTTING_DOWN with Retry-After after SIGTERM, then exits cleanly', async () => {
      server = await serve({ ...db.env, QUARRY_SHUTDOWN_DRAIN_MS: '3000' });
      const [key] = db.keys;
      expect((await post(server, key, '{ viewer { role } }')).status).toBe(200);
      server.child.removeAllListeners('exit');
      const exited = new Promise<number | null>((resolve) => server!.child.once('exit', resolve));
      server.child.kill('SIGTERM');
      const res = await waitFor(async () => post(server!, key, '{ viewer { role } }'), {
        until: (r) => r.status !== 200,
        timeoutMs: 2_000,
        intervalMs: 20,
        what: 'the server to start refusing',
      });
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await res.json()) as any).errors[0].extensions.code).toBe('SHUTTING_DOWN');
      const ready = await fetch(server.url.replace(/\/graphql$/, '/readyz'));
      expect(ready.status).toBe(503);
      expect(await exited).toBe(0);
    }, 60_000);

    it('closes open subscriptions with 1012 and answers WebSocket upgrades 503 with Retry-After after SIGTERM', async () => {
      server = await serve({ ...db.env, QUARRY_SHUTDOWN_DRAIN_MS: '3000' });
      const [key] = db.keys;
      const { createDataset } = await gqlTo(
        server,
        key,
        'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
        { i: { name: 'ws-drain', classes: ['a', 'b'], featureDim: 2 } },
      );
      const wsUrl = server.url.replace(/^http/, 'ws');
      const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
      const messages: { type: string }[] = [];
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
      );
      socket.on('message', (m) => messages.push(JSON.parse(m.toString())));
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      socket.send(
        JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } }),
      );
      await waitFor(async () => messages, {
        until: (m) => m.some((x) => x.type === 'connection_ack'),
        timeoutMs: 10_000,
        what: 'the connection to be acknowledged',
      });
      socket.send(
        JSON.stringify({
          id: '1',
          type: 'subscribe',
          payload: {
            query: 'subscription($d: ID!) { queueChanged(datasetId: $d, snapshot: true) { kind } }',
            variables: { d: createDataset.id },
          },
        }),
      );
      await waitFor(async () => messages, {
        until: (m) => m.some((x) => x.type === 'next'),
        timeoutMs: 10_000,
        what: 'the subscription to deliver its snapshot',
      });
      server.child.removeAllListeners('exit');
      const exited = new Promise<number | null>((resolve) => server!.child.once('exit', resolve));
      server.child.kill('SIGTERM');
      // Open subscriptions end at once, with the code that tells clients to reconnect elsewhere.
      expect((await closed).code).toBe(1012);
      // A new upgrade is refused with a complete HTTP answer, not accepted nor hung up on.
      const refused = await new Promise<{ status?: number; retryAfter?: string; body: string }>(
        (resolve, reject) => {
          const late = new WebSocket(wsUrl, 'graphql-transport-ws');
          late.once('open', () => reject(new Error('the upgrade was accepted while stopping')));
          late.once('error', (e) => reject(e));
          late.once('unexpected-response', (_req, res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () =>
              resolve({
                status: res.statusCode,
                retryAfter: res.headers['retry-after'],
                body,
              }),
            );
          });
        },
      );
      expect(refused.status).toBe(503);
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
      expect(JSON.parse(refused.body).errors[0].extensions.code).toBe('SHUTTING_DOWN');
      expect(await exited).toBe(0);
    }, 60_000);
  });
}

if (backends().includes('postgres')) {
  describe('two server processes on PostgreSQL', () => {
    let db: Awaited<ReturnType<typeof servedDatabase>>;
    const servers: Served[] = [];

    beforeAll(async () => {
      db = await servedDatabase('postgres', [ApiKeyRole.ADMIN, ApiKeyRole.ANNOTATOR]);
    });

    // Each test starts its own processes (with its own plugins): none may outlive it, or it
    // would take the next test's jobs (a process without the next test's trainer fails them).
    afterEach(async () => {
      await Promise.all(
        servers.filter((s) => s.child.exitCode === null).map((s) => stopProcess(s, 'SIGKILL')),
      );
      servers.length = 0;
    });

    afterAll(async () => {
      await db.drop();
    });

    it('start together on a fresh database: migrations and job queues are set up once, without a deadlock', async () => {
      const fresh = await createEmptyPgDatabase();
      const dirs = [0, 1, 2].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-together-')));
      try {
        const started = await serveAll(
          dirs.map((dir) => ({
            ...db.env,
            DATABASE_URL: fresh.url,
            QUARRY_DATA_DIR: path.join(dir, 'data'),
            QUARRY_MODEL_CACHE_DIR: path.join(dir, 'models'),
          })),
        );
        try {
          for (const s of started) expect((await fetch(`${s.base}/readyz`)).status).toBe(200);
        } finally {
          await Promise.all(started.map((s) => stopProcess(s)));
        }
      } finally {
        await fresh.drop();
        for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 90_000);

    it('share one rate limit per key', async () => {
      const env = { ...db.env, QUARRY_RATE_LIMIT_REQUESTS_PER_SECOND: 'ANNOTATOR=10' };
      const [a, b] = await serveAll([env, env]);
      servers.push(a, b);
      const annotator = db.keys[1];
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => post(i % 2 ? a : b, annotator, '{ viewer { id } }')),
      );
      const ok = answers.filter((r) => r.status === 200).length;
      // Each process alone would let 10 through in the second: together they let 10 through.
      expect(ok).toBeLessThanOrEqual(10);
      expect(answers.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(10);
      await Promise.all([stopProcess(a), stopProcess(b)]);
      servers.length = 0;
    }, 60_000);

    it('hands a running round over to the other process within seconds of SIGTERM', async () => {
      const env = {
        ...db.env,
        QUARRY_STRATEGY_MODULES: SLOW_MARGIN,
        QUARRY_ROUND_CHUNK_ROWS: '20',
        // Without the hand-over the other process would take the round only after its
        // heartbeat went stale (30 s) and its job expired (120 s).
        QUARRY_ROUND_JOB_EXPIRE_SECONDS: '120',
        QUARRY_SHUTDOWN_DRAIN_MS: '1000',
      };
      const [key] = db.keys;
      const a = await serve(env);
      servers.push(a);
      const { createDataset } = await gqlTo(
        a,
        key,
        'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
        { i: { name: 'digits', classes: DIGIT_CLASSES, featureDim: 64 } },
      );
      const d = createDataset.id;
      const digits = loadDigits();
      await gqlTo(
        a,
        key,
        'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
        {
          d,
          items: digits.features.map((f, i) => ({
            externalId: `d${i}`,
            featuresBase64: f32base64(f),
          })),
        },
      );
      const { registerModel } = await gqlTo(
        a,
        key,
        'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id } }',
        { d, b: testModel().toString('base64') },
      );
      const { startRound } = await gqlTo(
        a,
        key,
        'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }',
        { i: { datasetId: d, strategy: 'slow-margin', size: 40, modelIds: [registerModel.id] } },
      );
      const ROUND = `query($id: ID!) { round(id: $id) { status error attempts progress { scored total }
        queries(first: 100) { edges { node { rank item { id } } } } } }`;
      const read = async (s: Served) =>
        withQueryList((await gqlTo(s, key, ROUND, { id: startRound.id })).round);
      await waitFor(() => read(a), {
        until: (r) => r.status === 'SCORING' && r.progress.scored > 0,
        timeoutMs: 30_000,
        intervalMs: 50,
        what: 'the round to be scoring on the first process',
      });
      const b = await serve(env);
      servers.push(b);
      const scoring = await read(b);
      expect(scoring).toMatchObject({ status: 'SCORING', attempts: 1 });
      const stopped = stopProcess(a, 'SIGTERM');
      const takenOver = await waitFor(() => read(b), {
        until: (r) => r.attempts >= 2,
        timeoutMs: 15_000,
        intervalMs: 100,
        what: 'the second process to take the round over',
      });
      expect(['SCORING', 'SELECTING', 'OPEN']).toContain(takenOver.status);
      await stopped;
      const open = await waitFor(() => read(b), {
        until: (r) => !['QUEUED', 'SCORING', 'SELECTING'].includes(r.status),
        timeoutMs: 60_000,
        intervalMs: 200,
        what: 'the round to open on the second process',
      });
      expect(open.error).toBeNull();
      expect(open.status).toBe('OPEN');
      expect(open.queries.map((q: { rank: number }) => q.rank)).toEqual(
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      expect(new Set(open.queries.map((q: { item: { id: string } }) => q.item.id)).size).toBe(40);
    }, 150_000);

    it('hands a running training run over to the other process within seconds of SIGTERM, and it completes', async () => {
      const env = {
        ...db.env,
        QUARRY_TRAINER_MODULES: SLOW_CENTROID,
        // Without the hand-over the other process would take the task only after its
        // heartbeat went stale (30 s) and its job expired (120 s).
        QUARRY_ROUND_JOB_EXPIRE_SECONDS: '120',
        QUARRY_SHUTDOWN_DRAIN_MS: '1000',
      };
      const [key] = db.keys;
      const a = await serve(env);
      servers.push(a);
      const { createDataset } = await gqlTo(
        a,
        key,
        'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
        { i: { name: 'digits-training', classes: DIGIT_CLASSES, featureDim: 64 } },
      );
      const d = createDataset.id;
      const digits = loadDigits();
      const labelled = 600;
      await gqlTo(
        a,
        key,
        'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
        {
          d,
          items: digits.features.slice(0, labelled).map((f, i) => ({
            externalId: `t${i}`,
            featuresBase64: f32base64(f),
            label: digits.labels[i],
          })),
        },
      );
      const { trainModel } = await gqlTo(
        a,
        key,
        'mutation($i: TrainModelInput!) { trainModel(input: $i) { id } }',
        { i: { datasetId: d, trainer: 'slow-centroid' } },
      );
      const pg = new Client({ connectionString: db.env.DATABASE_URL });
      await pg.connect();
      try {
        const task = async () =>
          (
            await pg.query<{ status: string; attempts: number }>(
              'SELECT status, attempts FROM task WHERE id = $1',
              [trainModel.id],
            )
          ).rows[0];
        await waitFor(task, {
          until: (r) => r.status === 'RUNNING',
          timeoutMs: 30_000,
          intervalMs: 50,
          what: 'the training run to be running on the first process',
        });
        const b = await serve(env);
        servers.push(b);
        expect(await task()).toEqual({ status: 'RUNNING', attempts: 1 });
        const stopped = stopProcess(a, 'SIGTERM');
        const takenOver = await waitFor(task, {
          until: (r) => r.attempts >= 2,
          timeoutMs: 15_000,
          intervalMs: 100,
          what: 'the second process to take the training run over',
        });
        expect(['RUNNING', 'SUCCEEDED']).toContain(takenOver.status);
        await stopped;
        const RUN = `query($id: ID!) { trainingRun(id: $id) { status error model { id version humanLabels } } }`;
        const read = async () => (await gqlTo(b, key, RUN, { id: trainModel.id })).trainingRun;
        const done = await waitFor(read, {
          until: (r) => r.status === 'SUCCEEDED' || r.status === 'FAILED',
          timeoutMs: 60_000,
          intervalMs: 200,
          what: 'the training run to end on the second process',
        });
        expect(done.error).toBeNull();
        expect(done.status).toBe('SUCCEEDED');
        // Trained once, on every label: one model version, nothing lost to the hand-over.
        expect(done.model).toMatchObject({ version: 1, humanLabels: labelled });
        const { models } = await gqlTo(
          b,
          key,
          'query($d: ID!) { models(datasetId: $d) { nodes { id } } }',
          {
            d,
          },
        );
        expect(models.nodes).toEqual([{ id: done.model.id }]);
      } finally {
        await pg.end();
      }
    }, 150_000);
  });
}
