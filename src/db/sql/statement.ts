/**
 * The shape of every SQL statement Quarry sends, and the one way a value may appear in SQL text.
 *
 * Statements live in `src/db/sql/<table family>.sql.ts` as functions returning
 * {@link SqlStatement} (the style of pg-boss's `plans.ts`): services call them and pass `text` and
 * `values` to the driver; no service builds SQL of its own or exports a fragment.
 */

import { returnedRows } from '../db-errors';

/** A parameterised statement: `text` with `$1..$n` placeholders, and their values. */
export interface SqlStatement {
  text: string;
  values: unknown[];
}

/** Builds a {@link SqlStatement}; `values` default to none. */
export function sql(text: string, values: unknown[] = []): SqlStatement {
  return { text, values };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BIGINT_ID = /^[1-9][0-9]{0,18}$/;

/**
 * A value as a SQL literal, for the statements that take no parameters (`COPY (...) TO`, which
 * PostgreSQL plans without binds). Only what cannot carry SQL passes: a uuid, a positive bigint id
 * (as a string or a safe integer) and finite numbers. Anything else throws, so a caller can never
 * inline user text by mistake.
 *
 * @example copyLiteral('3f8e…') === "'3f8e…'::uuid"; copyLiteral(12) === '12'
 */
export function copyLiteral(value: string | number): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new TypeError(`copyLiteral: ${value} is not a finite number`);
    return String(value);
  }
  if (UUID.test(value)) return `'${value.toLowerCase()}'::uuid`;
  if (BIGINT_ID.test(value) && BigInt(value) <= 9223372036854775807n) return `${value}::bigint`;
  throw new TypeError(
    `copyLiteral: ${JSON.stringify(value.slice(0, 40))} is neither a uuid nor a bigint id; only those may be inlined into SQL`,
  );
}

/**
 * What can run a statement: TypeORM's `DataSource`, `EntityManager` and `QueryRunner` all fit, as
 * does a pg `Client`/`Pool` (whose `query` answers `{ rows }`: use `.query` directly there).
 */
export interface Queryable {
  query(text: string, values?: any[]): Promise<any>;
}

/**
 * Runs `statement` through TypeORM and returns its rows, typed `T`. UPDATE/DELETE … RETURNING
 * answer `[rows, affectedCount]` through TypeORM, SELECT and INSERT the rows alone: both come
 * back as the rows (see `returnedRows`).
 *
 * @example const [row] = await run<{ id: string }>(manager, items.byExternalIds(datasetId, ids));
 */
export async function run<T = Record<string, unknown>>(
  db: Queryable,
  statement: SqlStatement,
): Promise<T[]> {
  return returnedRows<T>(await db.query(statement.text, statement.values));
}
