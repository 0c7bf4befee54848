import type { DataSource } from 'typeorm';
import type { ApiKey } from '../entities';
import { BadUserInputError } from '../errors';
import { isBigintId } from '../db/db-errors';
import { isIntIn } from './validate';
import { keysetCount, keysetRows, type Listing } from '../db/sql/pages.sql';
import { run } from '../db/sql/statement';

/** Re-exported for the listings still built in services; new ones are built in `*.sql.ts`. */
export { Conditions } from '../db/sql/pages.sql';

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

/**
 * The API's listing of one dataset's rows, as the services that list implement it: authorised
 * against `key`, narrowed by `filter`, a page of `first` rows (default {@link DEFAULT_PAGE_SIZE})
 * after the cursor `after`. Written once so that every listing takes the same arguments.
 *
 * @example readonly list: ListPage<ItemFilter, ItemRow> = async (key, datasetId, filter, first, after) => …
 */
export type ListPage<F, T> = (
  key: ApiKey,
  datasetId: string,
  filter: F,
  first?: number | null,
  after?: string | null,
) => Promise<Page<T>>;

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

/**
 * A page of `table` rows in id order, after the cursor, with a lazily counted total: the one
 * keyset pagination of every connection. `table` and `columns` are trusted SQL (a `*.sql.ts`
 * listing).
 */
export async function keysetPage<T extends { id: string }>(
  ds: DataSource,
  opts: Listing & {
    /** Cursor kind, e.g. `item`. */
    kind: string;
    first?: number | null;
    after?: string | null;
  },
): Promise<Page<T>> {
  const limit = pageSize(opts.first);
  const afterId = decodeCursor(opts.kind, opts.after);
  // One more row than the page says whether there is a next page.
  const rows = await run<T>(ds, keysetRows(opts, afterId, limit + 1));
  const nodes = rows.slice(0, limit);
  return {
    nodes,
    cursors: nodes.map((n) => encodeCursor(opts.kind, n.id)),
    hasNextPage: rows.length > limit,
    hasPreviousPage: afterId !== undefined,
    totalCount: async () => {
      const [{ n }] = await run<{ n: number }>(ds, keysetCount(opts));
      return n;
    },
  };
}
