import crypto from 'node:crypto';
import { Client } from 'pg';
import { openDatabase, type Database } from '../../src/db/database';

export type BackendName = 'pglite' | 'postgres';

/** The backends every end-to-end spec runs on here: always PGlite, PostgreSQL when reachable. */
export function backends(): BackendName[] {
  return process.env.QUARRY_TEST_PG_URL ? ['pglite', 'postgres'] : ['pglite'];
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh, migrated database of its own for one spec file; `drop` leaves nothing behind. */
export async function freshDatabase(
  backend: BackendName,
): Promise<{ db: Database; url?: string; drop: () => Promise<void> }> {
  if (backend === 'pglite') {
    const db = await openDatabase({ dataDir: 'memory://' });
    return { db, drop: () => db.close() };
  }
  const { url, drop: dropPg } = await createEmptyPgDatabase();
  const db = await openDatabase({ databaseUrl: url, dataDir: 'unused', poolSize: 10 });
  return {
    db,
    url,
    drop: async () => {
      await db.close();
      await dropPg();
    },
  };
}

/** Creates an empty PostgreSQL database (for specs that start the server themselves). */
export async function createEmptyPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = process.env.QUARRY_TEST_PG_URL!;
  const name = `quarry_test_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return { url: withDatabase(adminUrl, name), drop: () => dropDatabase(name) };
}

async function dropDatabase(name: string): Promise<void> {
  const admin = new Client({ connectionString: process.env.QUARRY_TEST_PG_URL! });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
