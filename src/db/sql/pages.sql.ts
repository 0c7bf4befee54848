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

/** What a connection lists: `table` and `columns` are trusted SQL text of a `*.sql.ts` file. */
export interface Listing {
  table: string;
  columns: string;
  where: Conditions;
}

/**
 * Up to `limit` rows of the listing after `afterId`, in id order. Every listed table's primary key
 * is `id`, so the id range and ORDER BY are served by the primary key index (with the filters on
 * top), however deep the page.
 */
export function keysetRows(
  listing: Listing,
  afterId: string | undefined,
  limit: number,
): SqlStatement {
  const where = new Conditions();
  where.clauses.push(...listing.where.clauses);
  where.params.push(...listing.where.params);
  if (afterId) where.add((p) => `id > ${p}::bigint`, afterId);
  where.params.push(limit);
  return sql(
    `SELECT ${listing.columns} FROM ${listing.table} WHERE ${where.clauses.join(' AND ')} ORDER BY id LIMIT $${where.params.length}`,
    where.params,
  );
}

/** How many rows the listing has in all (a connection's `totalCount`, counted only if asked). */
export function keysetCount(listing: Listing): SqlStatement {
  return sql(
    `SELECT count(*)::int AS n FROM ${listing.table} WHERE ${listing.where.clauses.join(' AND ')}`,
    [...listing.where.params],
  );
}
