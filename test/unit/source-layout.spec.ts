import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

/** The TypeScript sources (tests run from dist/test/unit). */
const SRC = path.resolve(__dirname, '../../../src');

function sourceFiles(dir: string = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const rel = (file: string) => path.relative(SRC, file).split(path.sep).join('/');

/** The files `file` imports by relative path, type-only imports included. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map((i) => i.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => path.resolve(path.dirname(file), spec))
    .map((base) => [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f)))
    .filter((f): f is string => f !== undefined);
}

/** Every import cycle, as the files on it (depth-first search over the import graph). */
function importCycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const next of graph.get(f) ?? []) {
      if (state.get(next) === 'open') cycles.push(stack.slice(stack.indexOf(next)).map(rel));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return cycles;
}

describe('the source tree', () => {
  const files = sourceFiles();

  it('has no import cycle between files, type-only imports included', () => {
    expect(importCycles(files)).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-cycle-'));
    try {
      fs.writeFileSync(
        path.join(dir, 'a.ts'),
        "import type { B } from './b';\nexport type A = B;\n",
      );
      fs.writeFileSync(path.join(dir, 'b.ts'), "import { a } from './a';\nexport type B = 1;\n");
      expect(importCycles(sourceFiles(dir))).toHaveLength(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps every file under 500 lines', () => {
    const long = files
      .map((f) => ({ file: rel(f), lines: fs.readFileSync(f, 'utf8').split('\n').length }))
      .filter((f) => f.lines > 500);
    expect(long).toEqual([]);
  });

  it('names files in kebab-case, with a role suffix where they have one', () => {
    const badly = files
      .map(rel)
      .filter((f) => !/^[a-z0-9-]+(\.[a-z-]+)?\.ts$/.test(path.basename(f)));
    expect(badly).toEqual([]);
  });

  it('keeps SQL text in src/db', () => {
    const statement = /['"`]\s*(SELECT|INSERT|UPDATE|DELETE|COPY|WITH)\s/;
    const outside = files
      .filter((f) => !rel(f).startsWith('db/'))
      .filter((f) => statement.test(fs.readFileSync(f, 'utf8')))
      .map(rel);
    expect(outside).toEqual([]);
  });
});
