import { random } from '../../../src/strategies/builtin/random';
import { indices, pool, select } from './helpers';

const rows = pool({ embeddings: Array.from({ length: 50 }, (_, i) => [i]) });

describe('random', () => {
  it('selects the same rows for the same seed', () => {
    const a = indices(select(random, rows, 10, { params: { seed: 7 } }));
    const b = indices(select(random, rows, 10, { params: { seed: 7 } }));
    expect(b).toEqual(a);
  });

  it('selects different rows for another seed', () => {
    const a = indices(select(random, rows, 10, { params: { seed: 7 } }));
    const b = indices(select(random, rows, 10, { params: { seed: 8 } }));
    expect(b).not.toEqual(a);
  });

  it('ignores the server-provided generator, so only the seed parameter matters', () => {
    const a = indices(select(random, rows, 10, { random: () => 0 }));
    const b = indices(select(random, rows, 10, { random: () => 0.99 }));
    expect(b).toEqual(a);
  });

  it('extends a smaller selection with the same seed', () => {
    const five = indices(select(random, rows, 5, { params: { seed: 3 } }));
    const ten = indices(select(random, rows, 10, { params: { seed: 3 } }));
    expect(ten.slice(0, 5)).toEqual(five);
  });

  it('picks distinct rows, scored size - draw, with the draw as the reason', () => {
    const picks = select(random, rows, 4);
    expect(new Set(indices(picks)).size).toBe(4);
    expect(picks.map((p) => p.score)).toEqual([4, 3, 2, 1]);
    expect(picks.map((p) => p.reason)).toEqual([
      { draw: 0 },
      { draw: 1 },
      { draw: 2 },
      { draw: 3 },
    ]);
  });

  it('returns every row once when size exceeds the pool', () => {
    expect(indices(select(random, rows, 80)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  it('draws each row first about equally often over many seeds', () => {
    const four = pool({ embeddings: [[0], [1], [2], [3]] });
    const counts = [0, 0, 0, 0];
    for (let seed = 0; seed < 4000; seed++) {
      counts[select(random, four, 1, { params: { seed } })[0].index]++;
    }
    // Expected 1000 each, standard deviation ~27.
    for (const n of counts) expect(Math.abs(n - 1000)).toBeLessThan(150);
  });
});
