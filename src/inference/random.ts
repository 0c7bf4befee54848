/**
 * mulberry32: a small seeded generator of numbers in [0, 1). The same seed gives the same
 * sequence on every machine, so a round's selection can be repeated.
 *
 * @param seed taken as an unsigned 32-bit integer (`seed >>> 0`)
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  };
}
