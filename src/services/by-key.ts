import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { run, type Queryable, type SqlStatement } from '../db/sql/statement';

/**
 * DataLoader's contract, written once: a batch function answers one result per key, in the
 * order of the keys. Rows come back from SQL in any order and without the missing keys.
 */

/** Each key's row, or null where no row has that key. */
export function oneByKey<K, R>(keys: readonly K[], rows: readonly R[], keyOf: (row: R) => K) {
  const byKey = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => byKey.get(key) ?? null);
}

/** Each key's rows, in the rows' order; an empty list where none has that key. */
export function manyByKey<K, R>(keys: readonly K[], rows: readonly R[], keyOf: (row: R) => K) {
  const byKey = new Map<K, R[]>(keys.map((key) => [key, []]));
  for (const row of rows) byKey.get(keyOf(row))?.push(row);
  return keys.map((key) => byKey.get(key)!);
}

/** Runs `statement` and answers each key's row, or null: a DataLoader batch function's body. */
export async function runOneByKey<K, R>(
  db: Queryable,
  keys: readonly K[],
  statement: SqlStatement,
  keyOf: (row: R) => K,
): Promise<(R | null)[]> {
  return oneByKey(keys, await run<R>(db, statement), keyOf);
}

/** Runs `statement` and answers each key's rows, in the rows' order: a DataLoader batch. */
export async function runManyByKey<K, R>(
  db: Queryable,
  keys: readonly K[],
  statement: SqlStatement,
  keyOf: (row: R) => K,
): Promise<R[][]> {
  return manyByKey(keys, await run<R>(db, statement), keyOf);
}

/** Rows of a TypeORM entity by id, one per id, null where missing: a DataLoader batch. */
export async function entitiesByIds<E extends ObjectLiteral & { id: string }>(
  ds: DataSource,
  entity: EntityTarget<E>,
  ids: readonly string[],
): Promise<(E | null)[]> {
  const rows = await ds
    .getRepository(entity)
    .createQueryBuilder('e')
    .where('e.id = ANY(:ids)', { ids })
    .getMany();
  return oneByKey(ids, rows, (r) => r.id);
}
