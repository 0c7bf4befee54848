import Ajv from 'ajv';
import { strategies } from '../../../src/strategies/builtin';
import type { BatchStrategy, PointwiseStrategy, Strategy } from '../../../src/strategies/types';
import { randomPool, select, withDefaults } from './helpers';

const byCode = new Map(strategies.map((s) => [s.code, s]));
const pointwise = strategies.filter((s): s is PointwiseStrategy<any> => s.kind === 'pointwise');
const batch = strategies.filter((s): s is BatchStrategy<any> => s.kind === 'batch');

/** A pool with everything any built-in may need: 2 models, 3 classes, 4-d embeddings. */
const poolFor = (rows: number, classCount = 3) => randomPool(rows + 1, rows, classCount, 4, 2);

describe('the built-in strategies', () => {
  it('are the ten documented ones', () => {
    expect(strategies.map((s) => s.code).sort()).toEqual([
      'badge',
      'class-balanced',
      'cluster-margin',
      'entropy',
      'k-center',
      'kl-consensus',
      'least-confidence',
      'margin',
      'random',
      'vote-entropy',
    ]);
  });

  it('have unique kebab-case codes', () => {
    expect(byCode.size).toBe(strategies.length);
    for (const s of strategies) expect(s.code).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
  });

  it('name the paper behind them in their descriptions', () => {
    const papers: Record<string, RegExp> = {
      'vote-entropy': /Dagan & Engelson/,
      'kl-consensus': /McCallum & Nigam/,
      'k-center': /Sener & Savarese/,
      badge: /Ash et al\..*Deep Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds/,
      'cluster-margin': /Citovsky et al\..*Batch Active Learning at Scale/,
    };
    for (const s of strategies) {
      expect(s.description.trim().length).toBeGreaterThan(20);
      if (papers[s.code]) expect(s.description).toMatch(papers[s.code]);
    }
  });

  describe.each(strategies.map((s) => [s.code, s] as const))('%s', (_code, s: Strategy) => {
    it('has a strict object schema whose defaults validate', () => {
      const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: true });
      const validate = ajv.compile(s.paramsSchema);
      expect(s.paramsSchema).toMatchObject({ type: 'object', additionalProperties: false });
      const properties = (s.paramsSchema.properties ?? {}) as Record<
        string,
        Record<string, unknown>
      >;
      const params: Record<string, unknown> = {};
      expect(validate(params)).toBe(true);
      for (const [name, property] of Object.entries(properties)) {
        expect(property).toHaveProperty('default');
        expect(params[name]).toEqual(property.default);
        if (property.type === 'integer') {
          expect(property).toHaveProperty('minimum');
          expect(property).toHaveProperty('maximum');
        }
      }
      expect(validate({ notAParameter: 1 })).toBe(false);
    });

    it('declares needs that fit its kind', () => {
      if (s.kind === 'pointwise') {
        // Pointwise scores come from model outputs row by row: one model or a committee.
        expect(s.needs.length).toBe(1);
        expect(['PROBABILITIES', 'COMMITTEE']).toContain(s.needs[0]);
      } else {
        expect(new Set(s.needs).size).toBe(s.needs.length);
        const candidates = s.candidatePool(withDefaults(s));
        if (candidates) {
          expect(byCode.get(candidates.strategy)?.kind).toBe('pointwise');
          expect(Number.isInteger(candidates.size) && candidates.size > 0).toBe(true);
        }
      }
    });
  });

  describe.each(pointwise.map((s) => [s.code, s] as const))('%s (pointwise)', (_code, s) => {
    const params = withDefaults(s);

    it('writes nothing for an empty pool', () => {
      const out = new Float64Array(0);
      expect(() => s.score(poolFor(0), params, out)).not.toThrow();
    });

    it('scores every row with a finite number, and explains it with numbers', () => {
      for (const classCount of [1, 2, 5]) {
        const rows = poolFor(30, classCount);
        const out = new Float64Array(30).fill(NaN);
        s.score(rows, params, out);
        expect(out.every(Number.isFinite)).toBe(true);
        expect(Object.values(s.reason(rows, 29, params)).every(Number.isFinite)).toBe(true);
      }
    });
  });

  describe.each(batch.map((s) => [s.code, s] as const))('%s (batch)', (_code, s) => {
    it('selects nothing from an empty pool', () => {
      expect(select(s, poolFor(0), 5)).toEqual([]);
    });

    it.each([
      [10, 4, 3],
      [10, 10, 3],
      [10, 25, 3],
      [1, 3, 3],
      [12, 5, 1],
    ])(
      'returns min(size, rows) distinct picks, finite scores and reasons (%i rows, size %i, %i classes)',
      (rows, size, classCount) => {
        const picks = select(s, poolFor(rows, classCount), size, {
          labelled: { rows: 2, embeddings: new Float32Array(8).fill(0.25) },
        });
        expect(picks).toHaveLength(Math.min(rows, size));
        expect(new Set(picks.map((p) => p.index)).size).toBe(picks.length);
        for (const p of picks) {
          expect(Number.isInteger(p.index) && p.index >= 0 && p.index < rows).toBe(true);
          expect(Number.isFinite(p.score)).toBe(true);
          expect(Object.values(p.reason).every(Number.isFinite)).toBe(true);
        }
      },
    );

    it('selects the same rows twice for the same pool, parameters and seed', () => {
      const rows = poolFor(40);
      const once = select(s, rows, 8);
      expect(select(s, rows, 8)).toEqual(once);
    });
  });
});
