import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backends, createEmptyPgDatabase } from '../helpers/db';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';
import { testModel } from '../helpers/models';
import { gqlTo, QUARRY, serve, stopProcess, type Served } from '../helpers/process';
import { waitFor } from '../helpers/wait-for';
import { withQueryList } from '../helpers/queues';

const kill = stopProcess;
const gql = gqlTo;

const ROUND =
  'query($id: ID!) { round(id: $id) { status error attempts progress { scored total } queries(first: 1000) { edges { node { rank item { id } } } } } }';

for (const backend of backends()) {
  describe(`a round whose process dies [${backend}]`, () => {
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let dropPg: (() => Promise<void>) | undefined;
    let server: Served | undefined;

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-restart-'));
      env = {
        QUARRY_DATA_DIR: path.join(dir, 'data'),
        QUARRY_MODEL_CACHE_DIR: path.join(dir, 'models'),
        QUARRY_ROUND_CHUNK_ROWS: '20',
        QUARRY_INFERENCE_THREADS: '1',
        QUARRY_ROUND_JOB_EXPIRE_SECONDS: '4',
        QUARRY_JOB_POLLING_SECONDS: '1',
        DATABASE_URL: '',
      };
      if (backend === 'postgres') {
        const pg = await createEmptyPgDatabase();
        env.DATABASE_URL = pg.url;
        dropPg = pg.drop;
      }
    });

    afterAll(async () => {
      if (server) await kill(server, 'SIGTERM');
      await dropPg?.();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('is picked up again after a restart and opens with exactly N queries, none duplicated', async () => {
      server = await serve(env);
      let key: string;
      if (backend === 'pglite') {
        key = fs.readFileSync(path.join(dir, 'data', 'initial-admin.key'), 'utf8').trim();
      } else {
        // On PostgreSQL the first key is only logged: make one with the CLI (the server is stopped).
        await kill(server, 'SIGTERM');
        const { execFileSync } = await import('node:child_process');
        key = execFileSync(
          process.execPath,
          [QUARRY, 'keys', 'create', '--name', 'restart', '--role', 'ADMIN'],
          {
            env: { ...process.env, ...env },
          },
        )
          .toString()
          .trim();
        server = await serve(env);
      }
      const { createDataset } = await gql(
        server,
        key,
        'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
        {
          i: { name: 'digits', classes: DIGIT_CLASSES, featureDim: 64 },
        },
      );
      const d = createDataset.id;
      const digits = loadDigits();
      await gql(
        server,
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
      const { registerModel } = await gql(
        server,
        key,
        'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id } }',
        {
          d,
          b: testModel().toString('base64'),
        },
      );

      // Kill the server while the round is scoring (retry with a new round if one finishes first).
      let roundId: string | undefined;
      for (let attempt = 0; attempt < 5 && !roundId; attempt++) {
        const { startRound } = await gql(
          server,
          key,
          'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }',
          {
            i: { datasetId: d, strategy: 'margin', size: 40, modelIds: [registerModel.id] },
          },
        );
        const running = server;
        const round = await waitFor(
          async () => withQueryList((await gql(running, key, ROUND, { id: startRound.id })).round),
          {
            until: (r) => (r.status === 'SCORING' && r.progress.scored > 0) || r.status === 'OPEN',
            timeoutMs: 60_000,
            intervalMs: 5,
            what: `round ${startRound.id} to be scoring or open`,
          },
        );
        if (round.status === 'OPEN') {
          await gql(server, key, 'mutation($id: ID!) { cancelRound(id: $id) { status } }', {
            id: startRound.id,
          });
        } else {
          await kill(server, 'SIGKILL');
          roundId = startRound.id;
        }
      }
      expect(roundId).toBeDefined();

      const restarted = await serve(env);
      server = restarted;
      const round = await waitFor(
        async () => withQueryList((await gql(restarted, key, ROUND, { id: roundId })).round),
        {
          until: (r) => !['QUEUED', 'SCORING', 'SELECTING'].includes(r.status),
          timeoutMs: 60_000,
          intervalMs: 200,
          what: `round ${roundId} to finish after the restart`,
        },
      );
      expect(round.error).toBeNull();
      expect(round.status).toBe('OPEN');
      expect(round.attempts).toBeGreaterThanOrEqual(2);
      expect(round.queries).toHaveLength(40);
      expect(new Set(round.queries.map((q: { item: { id: string } }) => q.item.id)).size).toBe(40);
      expect(round.queries.map((q: { rank: number }) => q.rank)).toEqual(
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
    }, 150_000);
  });
}
