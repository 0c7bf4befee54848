import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { ENTITIES } from '../entities';
import { MIGRATIONS } from './migrations';
import { lockDataDir } from './lock';
import { withStartupLock } from './startup-lock';
import { logger } from '../logger';
import { dbStatements } from '../metrics';

let counting = false;

/**
 * Counts every statement sent through node-postgres (TypeORM's pool, pg-boss, the rate
 * limiter's store and the event listener all use its `Client`) in `quarry_db_statements_total`:
 * what a request costs the database shows in the metrics, and bench:queues prints it per claim
 * and per submit.
 */
function countStatements(): void {
  if (counting) return;
  counting = true;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    dbStatements.inc();
    return query.apply(this, args);
  };
}

export type DatabaseKind = 'pglite' | 'postgres';

/** An open database: TypeORM's DataSource plus, on the embedded default, the PGlite instance. */
export interface Database {
  kind: DatabaseKind;
  ds: DataSource;
  /** Only on the embedded default: for its bulk paths (COPY to /dev/blob). */
  pglite?: PGlite;
  /** Where the data lives, for messages: a directory or a redacted URL. */
  location: string;
  /** The NOTIFY channel of this Quarry (one per schema: schemas of one database share channels). */
  eventChannel: string;
  /**
   * Calls `onPayload` with every notification on `eventChannel`, in commit order. On PostgreSQL
   * this holds a connection of its own outside the pool (reconnecting after a failure; what is
   * sent while it is down is lost); on the embedded default it is PGlite's own listener.
   * Returns the function that stops listening.
   */
  listen(onPayload: (payload: string) => void): Promise<() => Promise<void>>;
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

function eventChannelOf(schema: string | undefined): string {
  return schema ? `quarry_events_${schema}` : 'quarry_events';
}

/** LISTEN on a connection of its own, reconnecting (after 1 s, then up to 30 s) when it drops. */
async function listenOnPostgres(
  url: string,
  channel: string,
  onPayload: (payload: string) => void,
): Promise<() => Promise<void>> {
  let client: pg.Client | undefined;
  let stopped = false;
  let delay = 1000;
  let retry: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url });
    c.on('notification', (n) => {
      if (n.channel === channel && n.payload !== undefined) onPayload(n.payload);
    });
    const reconnect = (err?: Error) => {
      if (stopped || client !== c) return;
      client = undefined;
      c.removeAllListeners('error');
      c.on('error', () => undefined);
      void c.end().catch(() => undefined);
      logger.warn(
        { err, retryInMs: delay },
        'the event listener lost its connection; reconnecting',
      );
      retry = setTimeout(() => {
        connect().catch(() => reconnect());
      }, delay);
      delay = Math.min(delay * 2, 30_000);
    };
    c.on('error', reconnect);
    c.on('end', () => reconnect());
    client = c;
    await c.connect();
    await c.query(`LISTEN "${channel}"`);
    delay = 1000;
  };
  await connect();
  return async () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    const c = client;
    client = undefined;
    if (c) {
      c.on('error', () => undefined);
      await c.end().catch(() => undefined);
    }
  };
}

/** Opens (and by default migrates) the database the configuration names. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  let db: Database;
  countStatements();
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
    const url = opts.databaseUrl;
    const channel = eventChannelOf(opts.schema);
    db = {
      kind: 'postgres',
      ds,
      location: redact(url),
      eventChannel: channel,
      listen: (onPayload) => listenOnPostgres(url, channel, onPayload),
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
        eventChannel: eventChannelOf(undefined),
        listen: async (onPayload) => {
          const stop = await pglite.listen(eventChannelOf(undefined), onPayload);
          return async () => {
            // Closing the database ends its listeners too; unlisten would then fail.
            if (!pglite.closed) await stop();
          };
        },
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
      // Processes started together migrate one after the other, never side by side.
      await withStartupLock(db.ds, db.kind, () => db.ds.runMigrations({ transaction: 'each' }));
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
