import { loadConfig } from '../../config';
import { err, out } from '../output';

// Loaded only by the commands that open the database (see serve.command.ts).
const database = () => import('../../db/database.js');

/** `quarry migrate`: applies pending migrations; `--check` compares entities and migrations. */
export async function migrate(opts: { check?: boolean }): Promise<void> {
  if (opts.check) {
    // The check compares the entities with a fresh database built only from the migrations.
    const { openDatabase, pendingSchemaChanges } = await database();
    const db = await openDatabase({ dataDir: 'memory://', migrate: true });
    try {
      const { up } = await pendingSchemaChanges(db);
      if (up.length > 0) {
        err('The entities and the migrations disagree. A migration is missing for:');
        for (const q of up) err(`  ${q}`);
        err('Generate one with: npm run migration:generate -- <what-it-does>');
        process.exitCode = 1;
      } else {
        out('Entities and migrations agree.');
      }
    } finally {
      await db.close();
    }
    return;
  }
  const config = loadConfig();
  const { openDatabase } = await database();
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    migrate: false,
  });
  try {
    const applied = await db.ds.runMigrations({ transaction: 'each' });
    out(
      applied.length
        ? `Applied ${applied.map((m) => m.name).join(', ')}.`
        : 'The database is up to date.',
    );
  } finally {
    await db.close();
  }
}
