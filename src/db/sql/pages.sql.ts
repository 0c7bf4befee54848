/**
 * Keyset pagination by id: the statements behind every Relay connection. A family's `*.sql.ts`
 * describes what it lists as a {@link Listing}; `keysetPage` (services/pagination) runs these.
 */

import { sql, type SqlStatement } from './statement';

/** Builds a WHERE clause and its numbered parameters together. */
export class Conditions {
  readonly clauses: string[] = [];
  readonly params: unknown[] = [];

  /** A condition on one parameter: `condition` gets its placeholder (`$3`). */
  add(condition: (placeholder: string) => string, value: unknown): this {
    this.params.push(value);
    this.clauses.push(condition(`$${this.params.length}`));
    return this;
  }

  /** A condition without parameters. */
  raw(condition: string): this {
    this.clauses.push(condition);
    return this;
  }
}

/**
 * The order of a listing before its `id` tie-breaker: a trusted column and its SQL type (the
 * cursor carries the column's value as text, cast back with `type`). An index on
 * `(<filter columns>, column)` serves it.
 */
export interface SortKey {
  column: string;
  type: 'text' | 'timestamptz' | 'integer';
}

/** What a connection lists: `table` and `columns` are trusted SQL text of a `*.sql.ts` file. */
export interface Listing {
  table: string;
  columns: string;
  where: Conditions;
  /** Sorted by this column, then id; by id alone when absent. */
  sortBy?: SortKey;
  /** Newest (largest) first. */
  descending?: boolean;
  /** The type of `id` (default bigint). */
  idType?: 'bigint' | 'uuid';
}

/** Where a page starts: the last row of the page before (its id, and its sort value as text). */
export interface KeysetPosition {
  id: string;
  sortValue?: string;
}

/** The column a sorted listing's rows carry their sort value in, as text, for the cursor. */
export const SORT_VALUE_COLUMN = '_sortValue';

/**
 * Up to `limit` rows of the listing after `after`, in the listing's order (`sortBy` then id, or id
 * alone). Every listed table's primary key is `id`; the row comparison `(sort, id) > (…)` is a
 * range on the sort index (or the primary key), so however deep the page, no row before it is
 * read (no OFFSET).
 */
export function keysetRows(
  listing: Listing,
  after: KeysetPosition | undefined,
  limit: number,
): SqlStatement {
  const where = new Conditions();
  where.clauses.push(...listing.where.clauses);
  where.params.push(...listing.where.params);
  const idType = listing.idType ?? 'bigint';
  const op = listing.descending ? '<' : '>';
  const dir = listing.descending ? ' DESC' : '';
  const sort = listing.sortBy;
  if (after && sort) {
    where.params.push(after.sortValue);
    const sortParam = `$${where.params.length}::${sort.type}`;
    where.add((p) => `(${sort.column}, id) ${op} (${sortParam}, ${p}::${idType})`, after.id);
  } else if (after) {
    where.add((p) => `id ${op} ${p}::${idType}`, after.id);
  }
  where.params.push(limit);
  const columns = sort
    ? `${listing.columns}, (${sort.column})::text AS "${SORT_VALUE_COLUMN}"`
    : listing.columns;
  const order = sort ? `${sort.column}${dir}, id${dir}` : `id${dir}`;
  return sql(
    `SELECT ${columns} FROM ${listing.table} WHERE ${whereText(where)} ORDER BY ${order} LIMIT $${where.params.length}`,
    where.params,
  );
}

/** How many rows the listing has in all (a connection's `totalCount`, counted only if asked). */
export function keysetCount(listing: Listing): SqlStatement {
  return sql(`SELECT count(*)::int AS n FROM ${listing.table} WHERE ${whereText(listing.where)}`, [
    ...listing.where.params,
  ]);
}

function whereText(where: Conditions): string {
  return where.clauses.length ? where.clauses.join(' AND ') : 'TRUE';
}
