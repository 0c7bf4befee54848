import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { QuarryClient, QuarryError } from '@quarry/client';

const PACKAGE = path.dirname(require.resolve('@quarry/client/package.json'));

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : [p];
  });
}

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

const EMPTY_PAGE = { pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] };

const OVERLOADED = { errors: [{ message: 'busy', extensions: { code: 'SERVICE_OVERLOADED' } }] };

describe('client SDK runtime', () => {
  it('loads as ESM and as CommonJS, and the ESM build imports nothing from Node', () => {
    const esm = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { QuarryClient, DatasetsDocument } from '@quarry/client'; console.log(typeof QuarryClient, DatasetsDocument.kind)",
      ],
      { cwd: PACKAGE, encoding: 'utf8' },
    );
    expect(esm.trim()).toBe('function Document');
    expect(typeof QuarryClient).toBe('function');
    const nodeImports = filesUnder(path.join(PACKAGE, 'dist/esm'))
      .filter((f) => f.endsWith('.js'))
      .filter((f) => /from ['"]node:|require\(/.test(fs.readFileSync(f, 'utf8')));
    expect(nodeImports).toEqual([]);
  });

  it('posts JSON with the CSRF-prevention header and the key, and names the operation', async () => {
    const seen: { headers: Headers; body: any }[] = [];
    const client = new QuarryClient({
      url: 'http://quarry.test/graphql',
      apiKey: 'qk_secret',
      fetch: async (_input, init) => {
        seen.push({ headers: new Headers(init!.headers), body: JSON.parse(String(init!.body)) });
        return answer(200, { data: { datasets: EMPTY_PAGE } });
      },
    });
    expect(await client.datasets.list()).toEqual([]);
    expect(seen[0].headers.get('apollo-require-preflight')).toBe('true');
    expect(seen[0].headers.get('authorization')).toBe('Bearer qk_secret');
    expect(seen[0].headers.get('content-type')).toBe('application/json');
    expect(seen[0].body).toMatchObject({ operationName: 'Datasets', variables: { first: 200 } });
    expect(seen[0].body.query).toContain('query Datasets');
  });

  it('lists every dataset by following the pages, each asked for with the cursor before it', async () => {
    const pages: Record<string, { nodes: { name: string }[]; next: string | null }> = {
      start: { nodes: [{ name: 'a' }, { name: 'b' }], next: 'c1' },
      c1: { nodes: [{ name: 'c' }, { name: 'd' }], next: 'c2' },
      c2: { nodes: [{ name: 'e' }], next: null },
    };
    const asked: (string | null)[] = [];
    const client = new QuarryClient({
      url: 'http://quarry.test/graphql',
      apiKey: 'qk_secret',
      fetch: async (_input, init) => {
        const after: string | null = JSON.parse(String(init!.body)).variables.after ?? null;
        asked.push(after);
        const page = pages[after ?? 'start'];
        return answer(200, {
          data: {
            datasets: {
              pageInfo: { hasNextPage: page.next !== null, endCursor: page.next ?? 'last' },
              nodes: page.nodes,
            },
          },
        });
      },
    });
    expect((await client.datasets.list()).map((d) => d.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(asked).toEqual([null, 'c1', 'c2']);
    asked.length = 0;
    // find stops at the first page that holds the dataset.
    expect((await client.datasets.find('b')).name).toBe('b');
    expect(asked).toEqual([null]);
  });

  it('retries SERVICE_OVERLOADED even for mutations, waiting as Retry-After says', async () => {
    const waits: number[] = [];
    let last = Date.now();
    let calls = 0;
    const client = new QuarryClient({
      url: 'http://quarry.test/graphql',
      fetch: async () => {
        waits.push(Date.now() - last);
        last = Date.now();
        return ++calls === 1
          ? answer(503, OVERLOADED, { 'retry-after': '1' })
          : answer(200, { data: { releaseQuery: { id: '1', status: 'OPEN' } } });
      },
    });
    const claim = { token: 't', query: { id: '1' } } as never;
    await client.queue.release(claim);
    expect(calls).toBe(2);
    expect(waits[1]).toBeGreaterThanOrEqual(950);
  });

  it('gives up after the configured retries with the last error, and maps a non-JSON answer to BAD_RESPONSE', async () => {
    let calls = 0;
    const overloaded = new QuarryClient({
      url: 'http://quarry.test/graphql',
      retry: { retries: 2, minDelayMs: 1, maxDelayMs: 2 },
      fetch: async () => {
        calls++;
        return answer(200, OVERLOADED);
      },
    });
    await expect(overloaded.datasets.list()).rejects.toMatchObject({ code: 'SERVICE_OVERLOADED' });
    expect(calls).toBe(3);
    const proxy = new QuarryClient({
      url: 'http://quarry.test/graphql',
      retry: { retries: 0 },
      fetch: async () => new Response('<html>Bad Gateway</html>', { status: 502 }),
    });
    const error: unknown = await proxy.datasets.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuarryError);
    expect(error).toMatchObject({ code: 'BAD_RESPONSE', status: 502 });
  });

  it('rejects options that cannot work, naming the option', async () => {
    expect(() => new QuarryClient({ url: 'localhost:4000' })).toThrow(
      /options\.url must be an http\(s\) URL/,
    );
    const client = new QuarryClient({
      url: 'http://quarry.test/graphql',
      fetch: async () => answer(200, {}),
    });
    await expect(client.queue.work('1', () => 'a', { concurrency: 0 })).rejects.toThrow(
      'options.concurrency must be a positive integer',
    );
  });
});
