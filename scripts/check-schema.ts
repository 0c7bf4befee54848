/**
 * Checks that the committed `schema.graphql` is the SDL the code emits (exit 1 if not).
 * `--write` updates the file instead: `npm run schema:emit`.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { buildQuarrySchema } from '../src/schema/build';

export const SCHEMA_FILE = path.resolve(__dirname, '../../schema.graphql');

export async function emittedSdl(): Promise<string> {
  const schema = await buildQuarrySchema();
  return (
    '# Generated from the code by `npm run schema:emit`; do not edit by hand.\n\n' +
    printSchema(lexicographicSortSchema(schema)) +
    '\n'
  );
}

async function main(): Promise<void> {
  const sdl = await emittedSdl();
  if (process.argv.includes('--write')) {
    fs.writeFileSync(SCHEMA_FILE, sdl);
    process.stdout.write(`Wrote ${SCHEMA_FILE}\n`);
    return;
  }
  const committed = fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, 'utf8') : '';
  if (committed !== sdl) {
    process.stderr.write(
      'schema.graphql differs from the schema the code emits. Run `npm run schema:emit` and commit the result.\n',
    );
    process.exit(1);
  }
  process.stdout.write('schema.graphql matches the code.\n');
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
}
