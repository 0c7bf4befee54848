import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { ApiKeyRole } from '../../src/entities';
import { backends } from './db';
import { startTestServer, type TestServer } from './server';

/** Debian's chromium (QUARRY_CHROMIUM overrides): no browser is downloaded at install time. */
export function chromiumPath(): string | undefined {
  if (process.env.QUARRY_CHROMIUM) return process.env.QUARRY_CHROMIUM;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return (
        execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined
      );
    } catch {
      // Not this one.
    }
  }
  return undefined;
}

/** Where screenshots go: a test artifact, not committed (.gitignore). */
export const ARTIFACTS = path.resolve(__dirname, '..', '..', '..', 'test-artifacts', 'screenshots');

/** A real server on a fresh database, a browser, and helpers to drive the web app. */
export interface WebTest {
  t: TestServer;
  browser: Browser;
  /** The app's address, e.g. http://127.0.0.1:43121/ */
  base: string;
  /** A new browser context (its own session storage) signed in with `key`, on `hash`. */
  signedIn(key: string, hash?: string): Promise<{ context: BrowserContext; page: Page }>;
  /** Runs axe-core on the page: the serious and critical violations, as readable lines. */
  axe(page: Page): Promise<string[]>;
  /** Saves a full-page screenshot under test-artifacts/screenshots/. */
  screenshot(page: Page, name: string): Promise<void>;
  createKey(role: ApiKeyRole, datasetIds?: string[]): Promise<string>;
}

const AXE_SOURCE = () => fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Declares the suite once per database (`[pglite]`, `[postgres]`) with a server serving the built
 * web app and a headless chromium. Without chromium the suite is skipped, except under CI (or
 * QUARRY_TEST_REQUIRE_BROWSER), where it fails: .ci/run installs it.
 */
export function describeInBrowser(title: string, body: (w: () => WebTest) => void): void {
  const executablePath = chromiumPath();
  const required = Boolean(process.env.CI || process.env.QUARRY_TEST_REQUIRE_BROWSER);
  for (const backend of backends()) {
    const suite = executablePath || required ? describe : describe.skip;
    suite(`${title} [${backend}]`, () => {
      let w: WebTest | undefined;
      let stop: (() => Promise<void>) | undefined;
      const contexts: BrowserContext[] = [];
      beforeAll(async () => {
        if (!executablePath)
          throw new Error(
            'No chromium found: apt-get install -y chromium (or set QUARRY_CHROMIUM).',
          );
        const t = await startTestServer(backend);
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
        stop = async () => {
          await browser.close();
          await t.stop();
        };
        const base = t.url.replace(/graphql$/, '');
        const axeSource = AXE_SOURCE();
        w = {
          t,
          browser,
          base,
          createKey: (role, ids) => t.createKey(role, ids),
          signedIn: async (key, hash = '#/') => {
            // bypassCSP: axe-core is injected as an inline script, which the app's CSP forbids.
            const context = await browser.newContext({
              viewport: { width: 1280, height: 900 },
              bypassCSP: true,
            });
            contexts.push(context);
            const page = await context.newPage();
            await page.goto(base);
            await page.getByLabel('API key').fill(key);
            await page.getByRole('button', { name: 'Sign in' }).click();
            await page.getByRole('heading', { name: 'Datasets' }).waitFor();
            if (hash !== '#/') await page.goto(base + hash);
            return { context, page };
          },
          axe: async (page) => {
            await page.addScriptTag({ content: axeSource });
            const violations = await page.evaluate(async () => {
              const axe = (globalThis as any).axe;
              const r = await axe.run((globalThis as any).document, {
                resultTypes: ['violations'],
              });
              return r.violations
                .filter((v: any) => v.impact === 'serious' || v.impact === 'critical')
                .map(
                  (v: any) =>
                    `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n: any) => n.target.join(' ')).join(', ')}`,
                );
            });
            return violations as string[];
          },
          screenshot: async (page, name) => {
            fs.mkdirSync(ARTIFACTS, { recursive: true });
            await page.screenshot({
              path: path.join(ARTIFACTS, `${name}-${backend}.png`),
              fullPage: true,
            });
          },
        };
      }, 120_000);
      afterEach(async () => {
        await Promise.all(contexts.splice(0).map((c) => c.close().catch(() => undefined)));
      });
      afterAll(async () => {
        await stop?.();
      }, 60_000);
      body(() => {
        if (!w) throw new Error('web test not started');
        return w;
      });
    });
  }
}
