/**
 * Writes a new migration to `migrations/` with the SQL that brings a freshly migrated database
 * in line with the entities. Usage: `npm run migration:generate -- <what-it-does>`.
 * Then list the new class in `src/db/migrations.ts`.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { openDatabase, pendingSchemaChanges } from '../src/db/database';

async function main(): Promise<void> {
  const what = process.argv[2];
  if (!what || !/^[a-z0-9-]+$/.test(what)) {
    throw new Error('usage: npm run migration:generate -- <what-it-does, kebab-case>');
  }
  const db = await openDatabase({ dataDir: 'memory://', migrate: true });
  try {
    const { up, down } = await pendingSchemaChanges(db);
    if (up.length === 0) {
      process.stdout.write('Entities and migrations agree; nothing to generate.\n');
      return;
    }
    const ts = Date.now();
    const className = what.replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase()) + ts;
    const q = (s: string) => '`' + s.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
    const body = `import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  public async up(queryRunner: QueryRunner): Promise<void> {
${up.map((s) => `    await queryRunner.query(${q(s)});`).join('\n')}
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
${down
  .reverse()
  .map((s) => `    await queryRunner.query(${q(s)});`)
  .join('\n')}
  }
}
`;
    const file = path.resolve(__dirname, '../../migrations', `${ts}-${what}.ts`);
    fs.writeFileSync(file, body);
    process.stdout.write(`Wrote ${file}\nAdd ${className} to src/db/migrations.ts.\n`);
  } finally {
    await db.close();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
