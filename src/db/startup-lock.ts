import type { DataSource } from 'typeorm';
import type { PoolClient } from 'pg';

/**
 * Key of the session-level advisory lock that serialises the start-up of Quarry processes
 * sharing one PostgreSQL database ('quarry' as 32-bit hex: any constant would do, this one
 * reads back).
 */
export const STARTUP_LOCK_KEY = 0x71756172;

/**
 * Runs `fn` while holding PostgreSQL's session advisory lock for Quarry's start-up, so that
 * processes started together apply migrations and create pg-boss's queues one after the other.
 * Done at the same time, pg-boss's `create_queue` (CREATE TABLE, foreign keys, ATTACH PARTITION)
 * in one process and another's INSERT into its queue table deadlock, and the losing process
 * exits. The lock is held by a connection of its own (the work itself runs on the pool's
 * other connections) and is released when `fn` ends, or when that connection closes.
 *
 * The embedded database serves one process, so there `fn` simply runs.
 */
export async function withStartupLock<T>(
  ds: DataSource,
  kind: 'postgres' | 'pglite',
  fn: () => Promise<T>,
): Promise<T> {
  if (kind !== 'postgres') return fn();
  const pool = (ds.driver as unknown as { master: { connect(): Promise<PoolClient> } }).master;
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [STARTUP_LOCK_KEY]);
    try {
      return await fn();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [STARTUP_LOCK_KEY]).catch(() => {
        broken = true;
      });
    }
  } finally {
    // A connection whose unlock failed is dropped, which ends its session and its lock.
    client.release(broken);
  }
}
