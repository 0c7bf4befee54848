import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { DataSource } from 'typeorm';
import { ENTITIES } from '../entities';
import { MIGRATIONS } from './migrations';
import { lockDataDir } from './lock';

export type DatabaseKind = 'pglite' | 'postgres';

/** An open database: TypeORM's DataSource plus, on the embedded default, the PGlite instance. */
export interface Database {
  kind: DatabaseKind;
  ds: DataSource;
  /** Only on the embedded default: for its bulk paths (COPY to /dev/blob). */
  pglite?: PGlite;
  /** Where the data lives, for messages: a directory or a redacted URL. */
  location: string;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** `postgres://...`, or unset for the embedded database. */
  databaseUrl?: string;
  /** The embedded database's directory; `memory://` keeps it in memory (tests). */
  dataDir: string;
  poolSize?: number;
  /** Apply pending migrations after connecting (the server does; `migrate --check` does not). */
  migrate?: boolean;
  /** PostgreSQL schema to use instead of `public` (tests give each file its own). */
  schema?: string;
}

function baseOptions() {
  return {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    // gen_random_uuid() is built into PostgreSQL 13+ (and PGlite): no extension to install.
    uuidExtension: 'pgcrypto' as const,
    installExtensions: false,
    synchronize: false,
    migrationsTransactionMode: 'each' as const,
  };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/** Opens (and by default migrates) the database the configuration names. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  let db: Database;
  if (opts.databaseUrl) {
    const ds = new DataSource({
      type: 'postgres',
      url: opts.databaseUrl,
      schema: opts.schema,
      poolSize: opts.poolSize ?? 10,
      extra: opts.schema ? { options: `-c search_path=${opts.schema}` } : undefined,
      ...baseOptions(),
    });
    await ds.initialize();
    db = {
      kind: 'postgres',
      ds,
      location: redact(opts.databaseUrl),
      close: () => ds.destroy(),
    };
  } else {
    const inMemory = opts.dataDir.startsWith('memory://');
    const unlock = inMemory ? () => undefined : lockDataDir(opts.dataDir);
    try {
      const pglite = await PGlite.create(opts.dataDir);
      const pgConfig = createPgConfig(pglite);
      // One connection: node-postgres's pool then serialises transactions for us, which is
      // what PGlite needs (statements of two transactions must never interleave on it).
      const ds = new DataSource({
        type: 'postgres',
        extra: { ...pgConfig, connection: pgConfig.connection, max: 1 },
        ...baseOptions(),
      });
      await ds.initialize();
      db = {
        kind: 'pglite',
        ds,
        pglite,
        location: opts.dataDir,
        close: async () => {
          try {
            await ds.destroy();
            await pglite.close();
          } finally {
            unlock();
          }
        },
      };
    } catch (e) {
      unlock();
      throw e;
    }
  }
  if (opts.migrate ?? true) {
    try {
      await db.ds.runMigrations({ transaction: 'each' });
    } catch (e) {
      await db.close();
      throw e;
    }
  }
  return db;
}

/** SQL that would bring the schema in line with the entities; empty when they agree. */
export async function pendingSchemaChanges(
  db: Database,
): Promise<{ up: string[]; down: string[] }> {
  const log = await db.ds.driver.createSchemaBuilder().log();
  return {
    up: log.upQueries.map((q) => q.query),
    down: log.downQueries.map((q) => q.query),
  };
}
