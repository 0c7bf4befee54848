import type { DataSource } from 'typeorm';
import { BadUserInputError } from '../errors';
import { isBigintId } from '../db/db-errors';
import { isIntIn } from './validate';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/** One page of a Relay connection, before GraphQL shapes it. */
export interface Page<T> {
  nodes: T[];
  cursors: string[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  /** Counted only if asked for. */
  totalCount: () => Promise<number>;
}

/** Cursors are opaque to clients: base64url of `<kind>:<id>`. */
export function encodeCursor(kind: string, id: string): string {
  return Buffer.from(`${kind}:${id}`).toString('base64url');
}

/** The id inside a cursor, or BAD_USER_INPUT when it is not a cursor of this kind. */
export function decodeCursor(kind: string, cursor: string | null | undefined): string | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString();
  const parts = text.split(':');
  const [k, id] = parts;
  if (parts.length !== 2 || k !== kind || !id || !isBigintId(id)) {
    throw new BadUserInputError(
      `after: ${JSON.stringify(cursor)} is not a cursor of this connection.`,
    );
  }
  return id;
}

export function pageSize(first: number | null | undefined): number {
  const n = first ?? DEFAULT_PAGE_SIZE;
  if (!isIntIn(n, { min: 0, max: MAX_PAGE_SIZE })) {
    throw new BadUserInputError(`first must be between 0 and ${MAX_PAGE_SIZE}; got ${n}.`);
  }
  return n;
}

/** Builds a WHERE clause and its numbered parameters together. */
export class Conditions {
  readonly clauses: string[] = [];
  readonly params: unknown[] = [];

  /** A condition on one parameter: `sql` gets its placeholder (`$3`). */
  add(sql: (placeholder: string) => string, value: unknown): this {
    this.params.push(value);
    this.clauses.push(sql(`$${this.params.length}`));
    return this;
  }

  /** A condition without parameters. */
  raw(sql: string): this {
    this.clauses.push(sql);
    return this;
  }
}

/**
 * A page of `table` rows in id order, after the cursor, with a lazily counted total: the one
 * keyset pagination of every connection. `table` and `columns` are trusted SQL.
 */
export async function keysetPage<T extends { id: string }>(
  ds: DataSource,
  opts: {
    table: string;
    columns: string;
    /** Cursor kind, e.g. `item`. */
    kind: string;
    where: Conditions;
    first?: number | null;
    after?: string | null;
  },
): Promise<Page<T>> {
  const limit = pageSize(opts.first);
  const afterId = decodeCursor(opts.kind, opts.after);
  const countWhere = opts.where.clauses.join(' AND ');
  const countParams = [...opts.where.params];
  const where = new Conditions();
  where.clauses.push(...opts.where.clauses);
  where.params.push(...opts.where.params);
  if (afterId) where.add((p) => `id > ${p}::bigint`, afterId);
  where.params.push(limit + 1);
  const rows: T[] = await ds.query(
    `SELECT ${opts.columns} FROM ${opts.table} WHERE ${where.clauses.join(' AND ')} ORDER BY id LIMIT $${where.params.length}`,
    where.params,
  );
  const nodes = rows.slice(0, limit);
  return {
    nodes,
    cursors: nodes.map((n) => encodeCursor(opts.kind, n.id)),
    hasNextPage: rows.length > limit,
    hasPreviousPage: afterId !== undefined,
    totalCount: async () => {
      const [{ n }] = await ds.query(
        `SELECT count(*)::int AS n FROM ${opts.table} WHERE ${countWhere}`,
        countParams,
      );
      return n;
    },
  };
}
