import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONFIG } from '../../src/config';

/**
 * No Docker engine runs here, so what `docker build` depends on is checked in the Dockerfile's
 * text: the files `npm ci` needs to install every workspace's dependencies, and what the server
 * reads at run time outside `dist`. (`npm run check` lints the file's syntax.)
 */

/** The repository (tests run from dist/test/unit). */
const ROOT = path.resolve(__dirname, '../../..');

interface Instruction {
  op: string;
  args: string;
}

/** The Dockerfile's stages, each as its instructions (continuation lines joined, comments out). */
function stages(): Instruction[][] {
  const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const result: Instruction[][] = [];
  for (const line of lines) {
    const [, op, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') result.push([]);
    result.at(-1)?.push({ op: op.toUpperCase(), args });
  }
  return result;
}

/** The workspaces of the root package.json, as directories relative to the repository. */
function workspaces(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    workspaces: string[];
  };
  return pkg.workspaces.flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [pattern];
    const dir = pattern.slice(0, -2);
    return fs
      .readdirSync(path.join(ROOT, dir))
      .map((name) => `${dir}/${name}`)
      .filter((ws) => fs.existsSync(path.join(ROOT, ws, 'package.json')));
  });
}

/** The sources of the COPY instructions of a stage (without `--from=`, `--chown=` options). */
function copiedSources(instructions: Instruction[]): string[] {
  return instructions
    .filter((i) => i.op === 'COPY')
    .flatMap((i) => {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      return parts.slice(0, -1);
    });
}

describe('Dockerfile', () => {
  it('copies every workspace package.json before npm ci, so every workspace is installed', () => {
    const [build] = stages();
    const install = build.findIndex((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(install).toBeGreaterThan(0);
    const before = copiedSources(build.slice(0, install));
    expect(before).toEqual(expect.arrayContaining(['package.json', 'package-lock.json']));
    const missing = workspaces().filter(
      (ws) => !before.some((src) => src === `${ws}/package.json` || src === `${ws}/`),
    );
    expect(missing).toEqual([]);
  });

  it('prunes dev dependencies without running scripts (the SDK workspace would rebuild without tsc)', () => {
    const [build] = stages();
    const prunes = build.filter((i) => i.op === 'RUN' && /\bnpm prune\b/.test(i.args));
    expect(prunes.length).toBeGreaterThan(0);
    for (const p of prunes) expect(p.args).toMatch(/npm prune [^&;]*--ignore-scripts/);
  });

  it('puts what the server reads outside dist into the image: the SDK and the web app', () => {
    const runtime = stages().at(-1)!;
    const copied = copiedSources(runtime).map((src) => src.replace(/^\/app\//, ''));
    // `@quarry/client` is a workspace link to packages/client; the web app is served from
    // QUARRY_WEB_DIR, packages/web/dist by default.
    const webDir = path.relative(ROOT, DEFAULT_CONFIG.webDir!).split(path.sep).join('/');
    for (const needed of ['dist', 'bin', 'node_modules', 'packages/client', webDir]) {
      expect(copied.some((src) => needed === src || needed.startsWith(`${src}/`))).toBe(true);
    }
  });
});
