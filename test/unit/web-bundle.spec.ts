import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const DIST = path.resolve(__dirname, '..', '..', '..', 'packages', 'web', 'dist');
const LIMIT_BYTES = 300 * 1024;

/**
 * The JavaScript a first visit loads: the entry scripts and module preloads index.html names, and
 * every chunk they import statically (lazy `import()` chunks, like the dashboard's, are not).
 */
function firstLoadScripts(): string[] {
  const html = fs.readFileSync(path.join(DIST, 'index.html'), 'utf8');
  const named = [...html.matchAll(/(?:src|href)="\.?\/?(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = fs.readFileSync(path.join(DIST, file), 'utf8');
    // Static imports between chunks: `import{a as b}from"./x-123.js"` or `import"./x.js"`.
    for (const m of code.matchAll(/import(?:[^"'()]*?from)?\s*["']\.\/([^"']+\.js)["']/g)) {
      visit(path.posix.join('assets', m[1]));
    }
  };
  named.forEach(visit);
  return [...seen];
}

describe('the web app build', () => {
  it('loads under 300 KB of JavaScript gzipped on a first visit, with the dashboard left for later', () => {
    const files = firstLoadScripts();
    expect(files.length).toBeGreaterThan(0);
    const gzipped = files.reduce(
      (n, f) => n + zlib.gzipSync(fs.readFileSync(path.join(DIST, f))).length,
      0,
    );
    expect(gzipped).toBeLessThan(LIMIT_BYTES);
    // The chart library comes with the dashboard's chunk, not with the first load.
    for (const f of files)
      expect(fs.readFileSync(path.join(DIST, f), 'utf8')).not.toContain('u-legend');
  });

  it('fetches nothing from another origin', () => {
    const html = fs.readFileSync(path.join(DIST, 'index.html'), 'utf8');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });
});
