import { copyLiteral, run, sql } from '../../src/db/sql/statement';
import { hasCurrentLabel } from '../../src/db/sql/conditions';

describe('copyLiteral', () => {
  it('inlines a uuid as a typed literal', () => {
    expect(copyLiteral('3F8E0A62-1B2C-4D5E-8F90-0123456789AB')).toBe(
      "'3f8e0a62-1b2c-4d5e-8f90-0123456789ab'::uuid",
    );
  });

  it('inlines a bigint id and a finite number', () => {
    expect(copyLiteral('9223372036854775807')).toBe('9223372036854775807::bigint');
    expect(copyLiteral(42)).toBe('42');
    expect(copyLiteral(0.5)).toBe('0.5');
  });

  it.each([
    ["x'; DROP TABLE item; --"],
    ["3f8e0a62-1b2c-4d5e-8f90-0123456789ab' OR '1'='1"],
    ['9223372036854775808'],
    ['012'],
    ['0'],
    ['-1'],
    [''],
    ['1 OR 1=1'],
  ])('refuses %j', (value) => {
    expect(() => copyLiteral(value)).toThrow(/only those may be inlined/);
  });

  it('refuses numbers that are not finite', () => {
    expect(() => copyLiteral(Number.NaN)).toThrow(TypeError);
    expect(() => copyLiteral(Number.POSITIVE_INFINITY)).toThrow(TypeError);
  });
});

describe('sql', () => {
  it('pairs text with its values', () => {
    expect(sql('SELECT $1', [1])).toEqual({ text: 'SELECT $1', values: [1] });
    expect(sql('SELECT 1')).toEqual({ text: 'SELECT 1', values: [] });
  });
});

describe('hasCurrentLabel', () => {
  it('names the item column it is given and counts only labels not superseded', () => {
    const text = hasCurrentLabel('i.id');
    expect(text).toContain('l.item_id = i.id');
    expect(text).toContain('l.superseded_at IS NULL');
    expect(text).not.toContain('source');
  });

  it('can leave MODEL labels out', () => {
    expect(hasCurrentLabel('t.i', 'human-or-import')).toContain(`l.source IN ('HUMAN', 'IMPORT')`);
  });

  it('refuses anything but a column reference', () => {
    expect(() => hasCurrentLabel('i.id) OR (1=1')).toThrow(TypeError);
  });
});

describe('run', () => {
  it('passes text and values to the driver and returns the rows', async () => {
    const calls: unknown[][] = [];
    const db = {
      query: async (text: string, values?: unknown[]) => {
        calls.push([text, values]);
        return [{ id: '1' }];
      },
    };
    await expect(run(db, sql('SELECT id FROM item WHERE id = $1', ['1']))).resolves.toEqual([
      { id: '1' },
    ]);
    expect(calls).toEqual([['SELECT id FROM item WHERE id = $1', ['1']]]);
  });

  it('returns the rows of an UPDATE … RETURNING, which TypeORM answers with [rows, count]', async () => {
    const db = { query: async () => [[{ id: '7' }], 1] };
    await expect(run(db, sql('UPDATE item SET split = split RETURNING id'))).resolves.toEqual([
      { id: '7' },
    ]);
  });
});
