import type { SqlStatement } from './statement';

/** Anything that runs SQL: a DataSource, an EntityManager (in a transaction or not). */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<any>;
}

/** Runs a {@link SqlStatement} on `m`, answering what the driver answers. */
export function runStatement<T = any>(m: Queryable, st: SqlStatement): Promise<T> {
  return m.query(st.text, st.values);
}
