import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { DIGITS_CSV } from '../helpers/digits';
import { QUARRY } from '../helpers/process';
import { startTestServer, type TestServer } from '../helpers/server';

const run = promisify(execFile);

/**
 * A proxy in front of the server that passes every request on, and for the `n`-th importItems
 * call lets the server do the work, then `fail`s the answer: drops the connection (as a server
 * that crashed after writing), or answers INTERNAL_SERVER_ERROR.
 */
async function faultyProxy(
  target: string,
  n: number,
  fail: 'drop' | 'internal',
): Promise<{ url: string; close: () => Promise<void> }> {
  let imports = 0;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const upstream = await fetch(target, {
      method: req.method,
      headers: {
        'content-type': req.headers['content-type'] ?? 'application/json',
        authorization: req.headers.authorization ?? '',
      },
      body: req.method === 'POST' ? body : undefined,
    });
    const text = await upstream.text();
    if (body.includes('importItems') && ++imports === n) {
      if (fail === 'drop') {
        req.socket.destroy();
        return;
      }
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          errors: [
            { message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
          ],
        }),
      );
      return;
    }
    res.writeHead(upstream.status, { 'content-type': 'application/json' });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('quarry import when the server fails mid-way', () => {
  let t: (TestServer & { stop(): Promise<void> }) | undefined;

  beforeAll(async () => {
    t = await startTestServer('pglite');
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
  });

  it.each(['drop', 'internal'] as const)(
    'does not claim a batch was not written when it cannot know (%s)',
    async (fail) => {
      const name = `digits-${fail}`;
      const { createDataset } = await t!.ok(
        'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
        {
          i: {
            name,
            classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
            featureDim: 64,
          },
        },
      );
      const proxy = await faultyProxy(t!.url, 2, fail);
      try {
        const failed = run(
          process.execPath,
          [QUARRY, 'import', DIGITS_CSV, '--dataset', name, '--batch-size', '500'],
          { env: { ...process.env, QUARRY_URL: proxy.url, QUARRY_API_KEY: t!.adminKey } },
        );
        const e = await failed.then(
          () => {
            throw new Error('the import succeeded');
          },
          (err: { stderr: string }) => err,
        );
        expect(e.stderr).not.toContain('nothing of it was written');
        expect(e.stderr).toContain('Batch 2 (rows 501-1000)');
        expect(e.stderr).toContain('may or may not have been written');
        expect(e.stderr).toContain('rerun with --skip-existing');
      } finally {
        await proxy.close();
      }
      // The server did write the batch whose answer was lost.
      const [{ n }] = await t!.sql('SELECT count(*)::int AS n FROM item WHERE dataset_id = $1', [
        createDataset.id,
      ]);
      expect(n).toBe(1000);
    },
  );
});
