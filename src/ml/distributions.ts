/**
 * Draws from continuous distributions, driven by a seeded uniform generator (`mulberry32` of
 * `src/strategies/math.ts`) so that every draw is reproducible for a seed. Never `Math.random`.
 */
import type { Random } from '../strategies/math';

/** A uniform draw in (0, 1]: safe to take the logarithm of. */
function openUniform(random: Random): number {
  return 1 - random();
}

/**
 * A standard normal draw (mean 0, standard deviation 1) by the Box–Muller transform. Uses two
 * uniform draws per call (the second normal of the pair is dropped, so that a draw's position in
 * the uniform sequence depends only on how many normals came before it).
 */
export function standardNormal(random: Random): number {
  const u1 = openUniform(random);
  const u2 = random();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * A Gamma(shape, 1) draw by Marsaglia & Tsang, "A Simple Method for Generating Gamma
 * Variables", ACM TOMS 26(3), 2000. For `shape < 1`, draws Gamma(shape + 1) and scales it by
 * U^(1/shape) (their section 6). `shape` must be a finite number > 0.
 */
export function gammaVariate(random: Random, shape: number): number {
  if (!(shape > 0) || !Number.isFinite(shape)) {
    throw new RangeError(`gamma shape must be a finite number > 0; got ${shape}.`);
  }
  if (shape < 1) {
    return gammaVariate(random, shape + 1) * Math.pow(openUniform(random), 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = openUniform(random);
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/**
 * A Beta(a, b) draw in [0, 1] as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). `a` and `b` must
 * be finite numbers > 0.
 *
 * @example
 * betaVariate(mulberry32(seedFrom('mixup')), 0.4, 0.4); // mostly near 0 or 1
 */
export function betaVariate(random: Random, a: number, b: number): number {
  const x = gammaVariate(random, a);
  const y = gammaVariate(random, b);
  // Both underflow to 0 only for tiny shapes; the limit of Beta(a, b) as a, b -> 0 puts its
  // mass on {0, 1} in the ratio b : a, so pick an end with that chance.
  if (x + y === 0) return random() < a / (a + b) ? 1 : 0;
  return x / (x + y);
}
