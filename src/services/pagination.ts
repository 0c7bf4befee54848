import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import type { ApiKey } from '../entities';
import { BadUserInputError } from '../errors';
import { isBigintId, isUuid } from '../db/db-errors';
import { isIntIn } from './validate';
import {
  keysetCount,
  keysetRows,
  SORT_VALUE_COLUMN,
  type KeysetPosition,
  type Listing,
  type SortKey,
} from '../db/sql/pages.sql';
import { run } from '../db/sql/statement';
import { entitiesByIds } from './by-key';

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

function notACursor(cursor: string): BadUserInputError {
  return new BadUserInputError(
    `after: ${JSON.stringify(cursor)} is not a cursor of this connection; pass the endCursor of the page before.`,
    [{ field: 'after', message: 'not a cursor of this connection' }],
  );
}

/** The id inside a cursor, or BAD_USER_INPUT when it is not a cursor of this kind. */
export function decodeCursor(kind: string, cursor: string | null | undefined): string | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString();
  const parts = text.split(':');
  const [k, id] = parts;
  if (parts.length !== 2 || k !== kind || !id || !isBigintId(id)) throw notACursor(cursor);
  return id;
}

/** A cursor of a sorted listing: base64url of `<kind>:<id>:<sort value>`. */
function encodePosition(kind: string, position: KeysetPosition): string {
  const tail = position.sortValue === undefined ? '' : `:${position.sortValue}`;
  return Buffer.from(`${kind}:${position.id}${tail}`).toString('base64url');
}

function decodePosition(
  kind: string,
  listing: Listing,
  cursor: string | null | undefined,
): KeysetPosition | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString();
  const first = text.indexOf(':');
  const second = text.indexOf(':', first + 1);
  const sorted = listing.sortBy !== undefined;
  const k = text.slice(0, first);
  const id = sorted ? text.slice(first + 1, second) : text.slice(first + 1);
  const sortValue = sorted ? text.slice(second + 1) : undefined;
  const idOk = (listing.idType ?? 'bigint') === 'uuid' ? isUuid(id) : isBigintId(id);
  if (first < 0 || k !== kind || !idOk || (sorted && (second < 0 || !sortValue))) {
    throw notACursor(cursor);
  }
  if (sortValue !== undefined && !sortValueOk(listing.sortBy!.type, sortValue)) {
    throw notACursor(cursor);
  }
  if (!sorted && id.includes(':')) throw notACursor(cursor);
  return { id, sortValue };
}

/** Whether a cursor's sort value casts to the listing's type (a forged one would fail in SQL). */
function sortValueOk(type: SortKey['type'], value: string): boolean {
  switch (type) {
    case 'text':
      return true;
    case 'integer':
      return /^-?[0-9]{1,10}$/.test(value) && Math.abs(Number(value)) <= 2147483647;
    case 'timestamptz':
      return (
        /^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9:.]+([+-][0-9:]+|Z)?$/.test(value) &&
        Number.isFinite(Date.parse(value.replace(' ', 'T').replace(/([+-][0-9]{2})$/, '$1:00')))
      );
    default: {
      const never: never = type;
      return never;
    }
  }
}

/**
 * A connection's page size: `first`, or `defaultSize` when absent; BAD_USER_INPUT naming `first`
 * outside 0..`max`.
 */
export function pageSize(
  first: number | null | undefined,
  max = MAX_PAGE_SIZE,
  defaultSize = DEFAULT_PAGE_SIZE,
): number {
  const n = first ?? defaultSize;
  if (!isIntIn(n, { min: 0, max })) {
    throw new BadUserInputError(
      `first must be between 0 and ${max}; got ${n}. Ask for more pages with after: pageInfo.endCursor.`,
      [{ field: 'first', message: `must be between 0 and ${max}` }],
    );
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
    /** Largest `first` (default {@link MAX_PAGE_SIZE}). */
    max?: number;
  },
): Promise<Page<T>> {
  const limit = pageSize(opts.first, opts.max);
  const after = decodePosition(opts.kind, opts, opts.after);
  // One more row than the page says whether there is a next page.
  const rows = await run<T & { [SORT_VALUE_COLUMN]?: string }>(
    ds,
    keysetRows(opts, after, limit + 1),
  );
  const nodes = rows.slice(0, limit);
  const cursors = nodes.map((n) =>
    encodePosition(opts.kind, { id: String(n.id), sortValue: n[SORT_VALUE_COLUMN] }),
  );
  if (opts.sortBy) for (const n of nodes) delete n[SORT_VALUE_COLUMN];
  return {
    nodes,
    cursors,
    hasNextPage: rows.length > limit,
    hasPreviousPage: after !== undefined,
    totalCount: async () => {
      const [{ n }] = await run<{ n: number }>(ds, keysetCount(opts));
      return n;
    },
  };
}

/**
 * A page of TypeORM entities listed by `listing` (which selects their ids): the keyset page of
 * ids, then the entities, in the page's order.
 */
export async function entityPage<E extends ObjectLiteral & { id: string }>(
  ds: DataSource,
  entity: EntityTarget<E>,
  opts: Parameters<typeof keysetPage>[1],
  /** Loads the entities of these ids (in any order); all columns by default. */
  load?: (ids: string[]) => Promise<E[]>,
): Promise<Page<E>> {
  const page = await keysetPage<{ id: string }>(ds, { ...opts, columns: 'id' });
  const ids = page.nodes.map((n) => String(n.id));
  let rows: (E | null)[];
  if (load) {
    const byId = new Map((await load(ids)).map((e) => [e.id, e]));
    rows = ids.map((id) => byId.get(id) ?? null);
  } else {
    rows = await entitiesByIds(ds, entity, ids);
  }
  // A row deleted between the two reads leaves the page; its cursor goes with it.
  const kept = rows.flatMap((r, i) => (r ? [{ r, cursor: page.cursors[i] }] : []));
  return { ...page, nodes: kept.map((k) => k.r), cursors: kept.map((k) => k.cursor) };
}

/**
 * The pages of a nested connection for each parent of a DataLoader batch, from up to `limit + 1`
 * rows per parent (the extra row says whether there is a next page), keyed by `parentOf`.
 */
export function pagesByParent<R>(
  parents: readonly string[],
  rows: readonly R[],
  opts: {
    limit: number;
    kind: string;
    parentOf: (row: R) => string;
    /** The value the cursor carries (the keyset position). */
    positionOf: (row: R) => string;
    hasPreviousPage: boolean;
    count: (parent: string) => Promise<number>;
  },
): Page<R>[] {
  const byParent = new Map<string, R[]>(parents.map((p) => [p, []]));
  for (const row of rows) byParent.get(opts.parentOf(row))?.push(row);
  return parents.map((parent) => {
    const all = byParent.get(parent)!;
    const nodes = all.slice(0, opts.limit);
    return {
      nodes,
      cursors: nodes.map((n) => encodeCursor(opts.kind, opts.positionOf(n))),
      hasNextPage: all.length > opts.limit,
      hasPreviousPage: opts.hasPreviousPage,
      totalCount: () => opts.count(parent),
    };
  });
}
