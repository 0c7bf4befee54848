/**
 * The web app's speed as an annotator feels it (npm run bench:web): a real `quarry serve`
 * (PostgreSQL when one answers, else the embedded database; QUARRY_BENCH_EMBEDDED=1 forces it),
 * headless chromium through playwright-core, one annotator labelling QUARRY_BENCH_WEB_ITEMS
 * (default 200) items with the keyboard. Prints the first-load JavaScript (gzipped), the time
 * from opening the page to the first item, from a key press to the next item on screen, and the
 * submit's HTTP round trip (its request timing in the browser), as percentiles.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Client } from 'pg';
import { chromium } from 'playwright-core';
import { QuarryClient } from '@quarry/client';
import { chromiumPath } from '../test/helpers/browser';
import { benchPgUrl } from './pg';
import { QUARRY, spawnServer, stopServer, type ServerProcess } from './server';

const ITEMS = Number(process.env.QUARRY_BENCH_WEB_ITEMS) || 200;
const DIST = path.resolve(__dirname, '../../packages/web/dist');

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const ms = (x: number) => `${x.toFixed(1)} ms`;
const summary = (xs: number[]) =>
  `p50 ${ms(percentile(xs, 50))}, p95 ${ms(percentile(xs, 95))}, max ${ms(Math.max(...xs))} (n=${xs.length})`;

function firstLoadGzipBytes(): number {
  const html = fs.readFileSync(path.join(DIST, 'index.html'), 'utf8');
  const entry = [...html.matchAll(/src="\.?\/?(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
  return entry.reduce((n, f) => n + zlib.gzipSync(fs.readFileSync(path.join(DIST, f))).length, 0);
}

async function main(): Promise<void> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('bench:web needs chromium (apt-get install chromium)');
  const pg = process.env.QUARRY_BENCH_EMBEDDED ? undefined : await benchPgUrl();
  console.log(
    `Web app benchmark: one annotator, ${ITEMS} items by keyboard, ${pg ? 'PostgreSQL' : 'embedded database (PGlite)'},` +
      ` ${os.availableParallelism()} cores (load ${os.loadavg()[0].toFixed(1)}), Node ${process.version}`,
  );
  console.log(
    `  first load: ${(firstLoadGzipBytes() / 1024).toFixed(1)} KB of JavaScript gzipped (limit 300 KB)`,
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-bench-web-'));
  const env: Record<string, string> = {
    QUARRY_DATA_DIR: path.join(dir, 'data'),
    QUARRY_MODEL_CACHE_DIR: path.join(dir, 'cache'),
    QUARRY_JOB_POLLING_SECONDS: '1',
  };
  const dbName = `quarry_bench_${crypto.randomBytes(4).toString('hex')}`;
  let pgAdmin: Client | undefined;
  if (pg) {
    pgAdmin = new Client({ connectionString: pg });
    await pgAdmin.connect();
    await pgAdmin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(pg);
    u.pathname = `/${dbName}`;
    env.DATABASE_URL = u.toString();
  }
  let server: ServerProcess | undefined;
  const browser = await chromium.launch({
    executablePath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  try {
    const run = (args: string[]) =>
      execFileSync(process.execPath, [QUARRY, ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .trim();
    run(['migrate']);
    const adminKey = run(['keys', 'create', '--name', 'bench', '--role', 'ADMIN']);
    const annotatorKey = run(['keys', 'create', '--name', 'annotator', '--role', 'ANNOTATOR']);
    server = await spawnServer(env);
    const admin = new QuarryClient({ url: server.url, apiKey: adminKey });
    const dataset = await admin.datasets.create({
      name: 'bench-web',
      classes: ['cat', 'dog', 'bird'],
      featureDim: 8,
    });
    await admin.items.import(
      dataset.id,
      (function* () {
        for (let i = 0; i < ITEMS + 20; i++)
          yield {
            externalId: `item-${i}`,
            features: Array.from({ length: 8 }, (_, j) => Math.sin(i + j)),
            payload: { text: `Item number ${i}` },
          };
      })(),
    );
    // Resolves once the round is OPEN.
    await admin.rounds.start({ datasetId: dataset.id, strategy: 'random', size: ITEMS + 10 });

    const page = await browser.newPage();
    const submitMs: number[] = [];
    page.on('requestfinished', (req) => {
      if (!req.postData()?.includes('"operationName":"SubmitLabel"')) return;
      const t = req.timing();
      submitMs.push(t.responseEnd - t.requestStart);
    });
    const base = server.url.replace(/graphql$/, '');
    await page.goto(base);
    await page.getByLabel('API key').fill(annotatorKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Datasets' }).waitFor();
    const shown = () => page.locator('#item-title').getAttribute('data-external-id');
    const opened = performance.now();
    await page.goto(`${base}#/label/${dataset.id}`);
    await page.locator('#item-title[data-external-id]').waitFor();
    const firstItemMs = performance.now() - opened;
    const nextMs: number[] = [];
    for (let i = 0; i < ITEMS; i++) {
      const before = await shown();
      const t0 = performance.now();
      await page.keyboard.press(String((i % 3) + 1));
      await page.waitForFunction(
        (prev) =>
          (globalThis as any).document
            .querySelector('#item-title')
            ?.getAttribute('data-external-id') !== prev,
        before,
        { polling: 'raf' },
      );
      nextMs.push(performance.now() - t0);
    }
    await page
      .getByTestId('answered')
      .filter({ hasText: String(ITEMS) })
      .waitFor();
    for (let i = 0; i < 100 && submitMs.length < ITEMS; i++)
      await new Promise((r) => setTimeout(r, 50));
    console.log(`  page opened -> first item: ${ms(firstItemMs)}`);
    console.log(`  key press -> next item on screen: ${summary(nextMs)}`);
    console.log(`  submit round trip (browser request timing): ${summary(submitMs)}`);
    let labels = 0;
    for await (const l of admin.labels.export(dataset.id)) if (l.source === 'HUMAN') labels++;
    console.log(`  HUMAN labels stored: ${labels} of ${ITEMS} answered`);
  } finally {
    await browser.close();
    await stopServer(server);
    if (pgAdmin) {
      await pgAdmin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await pgAdmin.end();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
