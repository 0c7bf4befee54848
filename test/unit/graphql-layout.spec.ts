import fs from 'node:fs';
import path from 'node:path';
import { getMetadataStorage } from 'type-graphql';
import { buildQuarrySchema } from '../../src/schema/build';

/** The TypeScript sources (tests run from dist/test/unit). */
const SRC = path.resolve(__dirname, '../../../src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** `schema/item.types.ts` for the class `ItemNode`: the file declaring `export class <name>`. */
function fileOfClass(name: string, dirs: string[]): string {
  const declares = new RegExp(`^export (abstract )?class ${name}\\b`, 'm');
  const found = dirs
    .flatMap((d) => sourceFiles(path.join(SRC, d)))
    .filter((f) => declares.test(fs.readFileSync(f, 'utf8')));
  if (found.length !== 1) throw new Error(`class ${name} is declared in ${found.length} files`);
  return path.relative(SRC, found[0]).split(path.sep).join('/');
}

describe('the GraphQL layer', () => {
  it("keeps each type's field resolvers in one resolver class, in its family's resolver file", async () => {
    await buildQuarrySchema();
    const storage = getMetadataStorage();
    const classesByType = new Map<string, Set<string>>();
    for (const fr of storage.fieldResolvers) {
      if (fr.kind !== 'external') continue;
      const resolverClass = storage.resolverClasses.find((r) => r.target === fr.target);
      const objectType = resolverClass?.getObjectType() as { name: string } | undefined;
      if (!objectType) throw new Error(`${fr.target.name}.${fr.methodName} has no object type`);
      const classes = classesByType.get(objectType.name) ?? new Set<string>();
      classes.add(fr.target.name);
      classesByType.set(objectType.name, classes);
    }
    expect(classesByType.size).toBeGreaterThan(5);

    const misplaced: string[] = [];
    for (const [typeName, classes] of classesByType) {
      if (classes.size !== 1) {
        misplaced.push(`${typeName}: field resolvers in ${[...classes].join(', ')}`);
        continue;
      }
      const typeFile = fileOfClass(typeName, ['schema']);
      const resolverFile = fileOfClass([...classes][0], ['resolvers']);
      const family = /^schema\/([a-z-]+)\.types\.ts$/.exec(typeFile)?.[1];
      if (resolverFile !== `resolvers/${family}.resolver.ts`) {
        misplaced.push(`${typeName} (${typeFile}): field resolvers in ${resolverFile}`);
      }
    }
    expect(misplaced).toEqual([]);
  });

  it('creates every DataLoader in the request context', () => {
    const importers = sourceFiles(SRC)
      .filter((f) => /from 'dataloader'/.test(fs.readFileSync(f, 'utf8')))
      .map((f) => path.relative(SRC, f).split(path.sep).join('/'));
    expect(importers).toEqual(['resolvers/context.ts']);
  });

  it('keeps every schema and resolver file under 500 lines', () => {
    const long = ['schema', 'resolvers']
      .flatMap((d) => sourceFiles(path.join(SRC, d)))
      .filter((f) => fs.readFileSync(f, 'utf8').split('\n').length > 500)
      .map((f) => path.relative(SRC, f));
    expect(long).toEqual([]);
  });
});
