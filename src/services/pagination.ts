import { BadUserInputError } from '../errors';
import { isBigintId } from './db-errors';

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
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`first must be between 0 and ${MAX_PAGE_SIZE}; got ${n}.`);
  }
  return n;
}
