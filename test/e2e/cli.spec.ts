import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildFeedForwardOnnx } from '../../src/ml/onnx-build';
import { backends, createEmptyPgDatabase } from '../helpers/db';
import { DIGITS_CSV } from '../helpers/digits';
import { gqlTo, QUARRY, serve, stopProcess, type Served } from '../helpers/process';

const run = promisify(execFile);

const killHard = (s: Served) => stopProcess(s, 'SIGKILL');
const stop = (s: Served) => stopProcess(s, 'SIGTERM');
const gql = gqlTo;

function quarry(args: string[], env: NodeJS.ProcessEnv) {
  return run(process.execPath, [QUARRY, ...args], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

for (const backend of backends()) {
  describe(`the quarry command and server process [${backend}]`, () => {
    let dataDir: string;
    let env: NodeJS.ProcessEnv;
    let dropPg: (() => Promise<void>) | undefined;
    let server: Served | undefined;
    let key: string;

    beforeAll(async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-cli-'));
      env = { QUARRY_DATA_DIR: dataDir, DATABASE_URL: '' };
      if (backend === 'postgres') {
        const pg = await createEmptyPgDatabase();
        env.DATABASE_URL = pg.url;
        dropPg = pg.drop;
      }
    });

    afterAll(async () => {
      if (server) await stop(server);
      await dropPg?.();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('starts on a new database, migrates it, and reports health and readiness', async () => {
      if (backend === 'pglite') {
        server = await serve(env);
        key = fs.readFileSync(path.join(dataDir, 'initial-admin.key'), 'utf8').trim();
      } else {
        // On PostgreSQL the first key is made with the CLI before the server starts.
        await quarry(['migrate'], env);
        const { stdout } = await quarry(['keys', 'create', '--name', 'ci', '--role', 'ADMIN'], env);
        key = stdout.trim();
        server = await serve(env);
      }
      expect(key).toMatch(/^qk_/);
      expect(await (await fetch(`${server.base}/healthz`)).json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${server.base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', database: backend });
    });

    it('imports digits.csv through the API with `quarry import`', async () => {
      const { stdout: id } = await quarry(
        [
          'dataset',
          'create',
          '--name',
          'digits',
          '--classes',
          '0,1,2,3,4,5,6,7,8,9',
          '--feature-dim',
          '64',
        ],
        { ...env, QUARRY_URL: server!.url, QUARRY_API_KEY: key },
      );
      expect(id.trim()).toMatch(/^[0-9a-f-]{36}$/);
      const { stdout } = await quarry(
        ['import', DIGITS_CSV, '--dataset', 'digits', '--batch-size', '500'],
        {
          ...env,
          QUARRY_URL: server!.url,
          QUARRY_API_KEY: key,
        },
      );
      expect(stdout).toContain('Imported 1797 items (1797 labelled)');
      const data = await gql(
        server!,
        key,
        'query($d: ID!) { items(datasetId: $d) { totalCount } }',
        { d: id.trim() },
      );
      expect(data.items.totalCount).toBe(1797);
    });

    it('refuses a second import of the same file and writes nothing, then resumes with --skip-existing', async () => {
      const cliEnv = { ...env, QUARRY_URL: server!.url, QUARRY_API_KEY: key };
      await expect(
        quarry(['import', DIGITS_CSV, '--dataset', 'digits'], cliEnv),
      ).rejects.toMatchObject({
        stderr: expect.stringContaining('already exists'),
      });
      const { stdout } = await quarry(
        ['import', DIGITS_CSV, '--dataset', 'digits', '--skip-existing'],
        cliEnv,
      );
      expect(stdout).toContain('Imported 0 items');
      expect(stdout).toContain('skipped 1797');
    });

    it('registers an ONNX file with `quarry model add`', async () => {
      const file = path.join(dataDir, 'tiny.onnx');
      const weights = Float32Array.from({ length: 64 * 10 }, (_, i) => Math.cos(i) / 10);
      fs.writeFileSync(
        file,
        buildFeedForwardOnnx({
          inputDim: 64,
          layers: [{ inDim: 64, outDim: 10, weights, bias: new Float32Array(10) }],
          outputs: { probabilities: 'probabilities' },
        }),
      );
      const { stdout, stderr } = await quarry(['model', 'add', file, '--dataset', 'digits'], {
        ...env,
        QUARRY_URL: server!.url,
        QUARRY_API_KEY: key,
      });
      expect(stdout.trim()).toMatch(/^[0-9a-f-]{36}$/);
      expect(stderr).toContain('as version 1');
    });

    it('keeps an acknowledged write through a kill -9 of the server', async () => {
      const { datasets } = await gql(server!, key, '{ datasets { nodes { id name } } }');
      const d = datasets.nodes.find((x: { name: string }) => x.name === 'digits').id;
      const { labelItems } = await gql(
        server!,
        key,
        'mutation($d: ID!) { labelItems(datasetId: $d, labels: [{ externalId: "1", value: "7" }]) { labels { id } } }',
        { d },
      );
      expect(labelItems.labels).toHaveLength(1);
      await killHard(server!);
      server = await serve(env);
      const data = await gql(
        server,
        key,
        'query($d: ID!) { items(datasetId: $d, filter: { externalIds: ["1"] }) { edges { node { label { value source } } } } }',
        { d },
      );
      expect(data.items.edges[0].node.label).toEqual({ value: '7', source: 'HUMAN' });
    });

    it('exports the current labels with `quarry export`', async () => {
      const out = path.join(dataDir, 'labels.csv');
      await quarry(['export', '--dataset', 'digits', '--format', 'csv', '--out', out], {
        ...env,
        QUARRY_URL: server!.url,
        QUARRY_API_KEY: key,
      });
      const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
      expect(lines[0]).toBe(
        'itemId,externalId,label,source,confidence,annotatorId,modelId,split,origin,createdAt',
      );
      expect(lines).toHaveLength(1798);
      expect(lines.find((l) => l.split(',')[1] === '1')).toContain(',7,HUMAN,');
    });

    it('exits quietly when the reader of `quarry export` closes the pipe early (| head)', async () => {
      const { stdout, stderr } = await run(
        '/bin/sh',
        [
          '-c',
          `"${process.execPath}" "${QUARRY}" export --dataset digits --format csv | head -n 2`,
        ],
        { env: { ...process.env, ...env, QUARRY_URL: server!.url, QUARRY_API_KEY: key } },
      );
      expect(stdout.trim().split('\n')).toHaveLength(2);
      expect(stderr).toBe('');
    });

    it('tells model versions apart in `quarry learning-curve`', async () => {
      const { stdout } = await quarry(['learning-curve', '--dataset', 'digits'], {
        ...env,
        QUARRY_URL: server!.url,
        QUARRY_API_KEY: key,
      });
      const [head, v1] = stdout.trim().split('\n');
      expect(head).toMatch(/^version\s+name\s+made by\s+labels.*kappa$/);
      expect(v1).toMatch(/^1\s+\S+\s+uploaded\s/);
    });

    if (backend === 'pglite') {
      it('refuses to open the embedded database while the server holds it', async () => {
        await expect(
          quarry(['keys', 'create', '--name', 'x', '--role', 'SERVICE'], env),
        ).rejects.toMatchObject({
          stderr: expect.stringContaining('in use by process'),
        });
      });
    }

    it('checks that the entities and the migrations agree', async () => {
      const { stdout } = await quarry(['migrate', '--check'], env);
      expect(stdout).toContain('agree');
    });
  });
}
