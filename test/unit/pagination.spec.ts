import { badUserInput as thrown } from '../helpers/errors';
import {
  decodeCursor,
  DEFAULT_PAGE_SIZE,
  encodeCursor,
  MAX_PAGE_SIZE,
  keysetPage,
  pageSize,
} from '../../src/services/pagination';
import { roundListing } from '../../src/db/sql/rounds.sql';
import { BadUserInputError } from '../../src/errors';

describe('cursors', () => {
  it.each(['1', '42', '1797', '9223372036854775807'])(
    'give back the id %s they were made from',
    (id) => {
      const cursor = encodeCursor('item', id);
      expect(decodeCursor('item', cursor)).toBe(id);
    },
  );

  it('are opaque, URL-safe strings that differ from id to id', () => {
    const a = encodeCursor('item', '1');
    const b = encodeCursor('item', '2');
    expect(a).not.toBe(b);
    expect(a).not.toContain('1');
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('read as "from the start" when there is none', () => {
    expect(decodeCursor('item', null)).toBeUndefined();
    expect(decodeCursor('item', undefined)).toBeUndefined();
  });

  it("refuse another connection's cursor", () => {
    const labelCursor = encodeCursor('label', '5');
    const e = thrown(() => decodeCursor('item', labelCursor));
    expect(e.message).toBe(
      `after: "${labelCursor}" is not a cursor of this connection; pass the endCursor of the page before.`,
    );
    expect(e.extensions.problems).toEqual([expect.objectContaining({ field: 'after' })]);
  });

  it.each([
    ['text that is no cursor', 'not-a-cursor'],
    ['the empty string', ''],
    ['a cursor without an id', encodeCursor('item', '')],
    ['a cursor with an id that is not a number', encodeCursor('item', 'abc')],
    ['a cursor with id 0', encodeCursor('item', '0')],
    ['a cursor with a negative id', encodeCursor('item', '-3')],
    ['a cursor with an id past bigint', encodeCursor('item', '9223372036854775808')],
    ['the plain text of a cursor', 'item:5'],
    ['a cursor with a trailing part', Buffer.from('item:5:extra').toString('base64url')],
  ])('refuse %s', (_what, cursor) => {
    thrown(() => decodeCursor('item', cursor));
  });
});

describe('page size', () => {
  it(`is ${DEFAULT_PAGE_SIZE} when not given`, () => {
    expect(pageSize(null)).toBe(50);
    expect(pageSize(undefined)).toBe(50);
  });

  it.each([0, 1, 50, 999, 1000])('takes %i', (n) => {
    expect(pageSize(n)).toBe(n);
  });

  it.each([-1, 1001, 5000, 2.5])('refuses %d and says what it takes', (n) => {
    expect(MAX_PAGE_SIZE).toBe(1000);
    const e = thrown(() => pageSize(n));
    expect(e.message).toBe(
      `first must be between 0 and 1000; got ${n}. Ask for more pages with after: pageInfo.endCursor.`,
    );
    expect(e.extensions.problems).toEqual([expect.objectContaining({ field: 'first' })]);
  });
});

describe('cursors of sorted connections', () => {
  it.each([
    ['a date that is no date', 'round:3f8e0a62-1b2c-4d5e-8f90-0123456789ab:yesterday'],
    ['a date with SQL in it', "round:3f8e0a62-1b2c-4d5e-8f90-0123456789ab:2026-01-01'; --"],
    ['an id that is no uuid', 'round:42:2026-01-01 00:00:00+00'],
    ['no sort value', 'round:3f8e0a62-1b2c-4d5e-8f90-0123456789ab'],
  ])('refuse %s, naming after, before any SQL runs', async (_what, text) => {
    const after = Buffer.from(text).toString('base64url');
    const ds = {} as never; // never reached: the cursor is refused first
    const e = await keysetPage(ds, {
      ...roundListing('3f8e0a62-1b2c-4d5e-8f90-0123456789ab'),
      kind: 'round',
      after,
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BadUserInputError);
    expect((e as BadUserInputError).extensions.problems).toEqual([
      expect.objectContaining({ field: 'after' }),
    ]);
  });
});
