import { copyLiteral, sql } from '../../src/db/sql/statement';
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
