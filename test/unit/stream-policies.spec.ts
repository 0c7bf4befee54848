import path from 'node:path';
import { PluginRegistrationError } from '../../src/plugins/registry';
import { loadStreamPolicies } from '../../src/plugins/stream-policies/registry';
import { StreamSession, type StreamStep } from '../../src/services/stream-session';
import { mulberry32, seedFrom } from '../../src/strategies/math';
import { badUserInput } from '../helpers/errors';

const plugin = (name: string) =>
  path.resolve(__dirname, '../fixtures/stream-plugins', `${name}.js`);
const registry = loadStreamPolicies();

function startupError(modules: string[]): PluginRegistrationError {
  try {
    loadStreamPolicies(modules);
  } catch (e) {
    expect(e).toBeInstanceOf(PluginRegistrationError);
    return e as PluginRegistrationError;
  }
  throw new Error('the registry loaded');
}

const decisions = (steps: StreamStep[]) => steps.map((s) => s.decision);
const outcomes = (steps: StreamStep[]) => steps.map((s) => s.outcome);

/** `n` confidences from a seeded generator: `at(t, u)` maps position t in [0, 1) and u ~ U(0, 1). */
function stream(n: number, seed: string, at: (t: number, u: number) => number): Float64Array {
  const random = mulberry32(seedFrom(seed));
  return Float64Array.from({ length: n }, (_, i) => Math.min(1, Math.max(0, at(i / n, random()))));
}

/** How many QUERIED outcomes fall in each of `parts` equal parts of the stream. */
function queriedPerPart(steps: StreamStep[], parts: number): number[] {
  const counts = new Array<number>(parts).fill(0);
  steps.forEach((s, i) => {
    if (s.outcome === 'QUERIED') counts[Math.floor((i * parts) / steps.length)] += 1;
  });
  return counts;
}

describe('the stream policy registry', () => {
  it('holds the built-in policies, and a plugin module’s beside them', () => {
    expect(registry.list().map((r) => r.plugin.code)).toEqual([
      'fixed-threshold',
      'randomized-variable-threshold',
      'variable-threshold',
    ]);
    const withPlugin = loadStreamPolicies([plugin('always-query')]);
    expect(withPlugin.get('always-query').modulePath).toBe(plugin('always-query'));
    const session = StreamSession.start(withPlugin, 'always-query', {}, 1);
    expect(outcomes(session.decideBatch([0.99, 0.99], 1).steps)).toEqual(['QUERIED', 'DEFERRED']);
  });

  // Duplicate codes, missing exports, bad defaults and sealing: see registry.spec.ts.
  it('stops start-up on a policy with a bad state schema', () => {
    const e = startupError([plugin('bad-state-schema')]);
    expect(e.message).toContain(plugin('bad-state-schema'));
    expect(e.message).toContain('stateSchema must be a JSON Schema of type "object"');
  });

  it('applies defaults and names each bad parameter', () => {
    const given = { budgetShare: 0.2 };
    registry.params('variable-threshold', given);
    expect(given).toEqual({ budgetShare: 0.2 });

    expect(registry.params('fixed-threshold', undefined)).toEqual({ threshold: 0.9 });
    expect(registry.params('variable-threshold', { budgetShare: 0.2 })).toEqual({
      initialThreshold: 1,
      step: 0.01,
      budgetShare: 0.2,
      window: 0,
    });
    expect(
      badUserInput(() => registry.params('fixed-threshold', { threshold: 1.5 })).message,
    ).toMatch(/params\.threshold must be <= 1/);
    expect(badUserInput(() => registry.params('variable-threshold', { step: 1 })).message).toMatch(
      /params\.step must be < 1/,
    );
    expect(badUserInput(() => registry.params('variable-threshold', { speed: 1 })).message).toMatch(
      /params\.speed is not a parameter of this stream policy/,
    );
    expect(badUserInput(() => registry.get('nope')).message).toMatch(
      /Unknown stream policy "nope"\. Known: fixed-threshold, randomized-variable-threshold, variable-threshold\./,
    );
  });

  it('rejects budget parameters that do not go together', () => {
    const e = badUserInput(() => registry.params('variable-threshold', { budgetUnits: 50 }));
    expect(e.message).toMatch(/params\.expectedLength is required with params\.budgetUnits/);
    expect(e.extensions.problems).toEqual([
      expect.objectContaining({ field: 'params.expectedLength' }),
    ]);
    expect(
      badUserInput(() =>
        registry.params('variable-threshold', {
          budgetShare: 0.1,
          budgetUnits: 5,
          expectedLength: 10,
        }),
      ).message,
    ).toMatch(/params\.budgetUnits cannot be given with params\.budgetShare/);
    expect(
      badUserInput(() =>
        registry.params('randomized-variable-threshold', { budgetUnits: 11, expectedLength: 10 }),
      ).message,
    ).toMatch(/params\.budgetUnits must be at most params\.expectedLength \(10\); got 11/);
    expect(
      badUserInput(() => registry.params('variable-threshold', { expectedLength: 10 })).message,
    ).toMatch(/params\.expectedLength is only used with params\.budgetUnits/);
  });
});

describe('fixed-threshold', () => {
  it('queries exactly the items below the threshold', () => {
    const session = StreamSession.start(registry, 'fixed-threshold', { threshold: 0.8 }, 1);
    const { steps } = session.decideBatch([0.5, 0.9, 0.79, 0.8]);
    expect(decisions(steps)).toEqual(['QUERY', 'ACCEPT', 'QUERY', 'ACCEPT']);
    expect(steps.every((s) => s.threshold === 0.8)).toBe(true);
  });
});

describe('variable-threshold', () => {
  it('narrows after a query, widens after an accept, and holds back past the budget share', () => {
    const session = StreamSession.start(
      registry,
      'variable-threshold',
      { budgetShare: 0.5, step: 0.1 },
      1,
    );
    const { steps } = session.decideBatch([0.95, 0.6, 0.99, 0.5, 0.2, 0.1]);
    // Spent share u/t before each item: 0/1, 1/2 (not < 0.5: held), 1/3, 1/4, 2/5, 3/6 (held).
    expect(decisions(steps)).toEqual(['QUERY', 'ACCEPT', 'ACCEPT', 'QUERY', 'QUERY', 'ACCEPT']);
    const thresholds = steps.map((s) => s.threshold);
    [1, 0.9, 0.9, 0.99, 0.891, 0.8019].forEach((t, i) => expect(thresholds[i]).toBeCloseTo(t, 12));
    expect(steps[1].reason).toEqual({ spentShare: 0.5, budgetShare: 0.5 });
    expect(steps[5].reason).toEqual({ spentShare: 0.5, budgetShare: 0.5 });
    // Held back below the threshold in force: neither queried nor labelled (0.6 < 0.9, 0.1 < 0.8019).
    expect(outcomes(steps)).toEqual([
      'QUERIED',
      'SKIPPED',
      'ACCEPTED',
      'QUERIED',
      'QUERIED',
      'SKIPPED',
    ]);
    expect(session.state).toMatchObject({
      seen: 6,
      requested: 3,
      queried: 3,
      accepted: 1,
      skipped: 2,
    });
    expect((session.state.policyState as { threshold: number }).threshold).toBeCloseTo(0.8019, 12);
  });

  it('paces on the paper’s sliding-window estimate when given a window', () => {
    const session = StreamSession.start(
      registry,
      'variable-threshold',
      { budgetShare: 0.5, step: 0.1, window: 4 },
      1,
    );
    const { steps } = session.decideBatch([0.5, 0.5, 0.5, 0.5, 0.5]);
    // û: 0 -> 1 -> 1.75 -> 2.3125 (û/w = 0.578 >= 0.5: held) -> 1.734375 -> 2.30078125
    expect(decisions(steps)).toEqual(['QUERY', 'QUERY', 'QUERY', 'ACCEPT', 'QUERY']);
    expect(steps[3].reason?.spentShare).toBeCloseTo(2.3125 / 4, 12);
    expect((session.state.policyState as { spending: number }).spending).toBeCloseTo(
      2.30078125,
      12,
    );
  });

  it('takes budgetUnits over expectedLength as its share', () => {
    const a = StreamSession.start(registry, 'variable-threshold', { budgetShare: 0.25 }, 1);
    const b = StreamSession.start(
      registry,
      'variable-threshold',
      { budgetUnits: 25, expectedLength: 100 },
      1,
    );
    const confidences = stream(400, 'units', (_t, u) => 0.5 + 0.5 * u);
    expect(decisions(b.decideBatch(confidences).steps)).toEqual(
      decisions(a.decideBatch(confidences).steps),
    );
    expect(b.state.requested).toBeLessThanOrEqual(100);
    expect(b.state.requested).toBeGreaterThanOrEqual(90);
  });

  it('spreads its budget evenly over the expected stream, where a fixed threshold spends it early', () => {
    // A model that gets better along the stream: confidences rise from about 0.4 to about 0.95.
    const n = 4000;
    const confidences = stream(n, 'improving', (t, u) => 0.35 + 0.5 * t + 0.15 * u);
    const budget = 400;

    const fixed = StreamSession.start(registry, 'fixed-threshold', { threshold: 0.8 }, 1);
    const fixedRun = fixed.decideBatch(confidences, budget);
    expect(fixedRun.budgetRemaining).toBe(0);
    expect(queriedPerPart(fixedRun.steps, 4)).toEqual([budget, 0, 0, 0]);
    expect(fixed.state.deferred).toBeGreaterThan(1000);

    const variable = StreamSession.start(
      registry,
      'variable-threshold',
      { budgetUnits: budget, expectedLength: n },
      1,
    );
    const variableRun = variable.decideBatch(confidences, budget);
    const perQuarter = queriedPerPart(variableRun.steps, 4);
    for (const q of perQuarter) {
      expect(q).toBeGreaterThanOrEqual(90);
      expect(q).toBeLessThanOrEqual(101);
    }
    expect(variable.state.queried).toBeLessThanOrEqual(budget);
    expect(variable.state.deferred).toBe(0);
    // The share spent never runs ahead of b by more than one label.
    let queried = 0;
    variableRun.steps.forEach((s, i) => {
      if (s.outcome === 'QUERIED') queried += 1;
      expect(queried).toBeLessThanOrEqual(Math.ceil(((i + 1) * budget) / n));
    });
  });

  it('still spends evenly when the model is sure of almost everything', () => {
    const n = 2000;
    const confidences = stream(n, 'sure', (_t, u) => 0.97 + 0.03 * u);
    const session = StreamSession.start(registry, 'variable-threshold', { budgetShare: 0.05 }, 1);
    const perQuarter = queriedPerPart(session.decideBatch(confidences).steps, 4);
    for (const q of perQuarter) expect(q).toBeGreaterThanOrEqual(20);
    expect(perQuarter.reduce((a, b) => a + b)).toBeLessThanOrEqual(100);
  });
});

describe('randomized-variable-threshold', () => {
  it('is the variable policy when the threshold is not randomized (delta 0)', () => {
    const confidences = stream(500, 'delta0', (_t, u) => u);
    const plain = StreamSession.start(registry, 'variable-threshold', { budgetShare: 0.2 }, 3);
    const randomized = StreamSession.start(
      registry,
      'randomized-variable-threshold',
      { budgetShare: 0.2, delta: 0 },
      3,
    );
    expect(randomized.decideBatch(confidences).steps).toEqual(plain.decideBatch(confidences).steps);
  });

  it('sometimes queries items above its threshold, within the same budget share', () => {
    const n = 2000;
    const confidences = stream(n, 'rand', (_t, u) => 0.6 + 0.4 * u);
    const session = StreamSession.start(
      registry,
      'randomized-variable-threshold',
      { budgetShare: 0.1, delta: 1 },
      'stream-7',
    );
    let above = 0;
    let queried = 0;
    for (const c of confidences) {
      const before = session.state.policyState as { threshold: number };
      const step = session.next(c);
      if (step.decision === 'QUERY') {
        queried += 1;
        if (c >= before.threshold) above += 1;
      }
      expect(queried).toBeLessThanOrEqual(Math.ceil(session.state.seen * 0.1));
    }
    expect(above).toBeGreaterThan(0);
    expect(queried).toBeGreaterThanOrEqual(180);
  });

  it('gives the same decisions for the same seed and different ones for another', () => {
    const confidences = stream(300, 'seeded', (_t, u) => 0.5 + 0.5 * u);
    const run = (seed: string) =>
      decisions(
        StreamSession.start(
          registry,
          'randomized-variable-threshold',
          { budgetShare: 0.3 },
          seed,
        ).decideBatch(confidences).steps,
      );
    expect(run('a')).toEqual(run('a'));
    expect(run('a')).not.toEqual(run('b'));
  });
});

describe('a stream session', () => {
  it.each(['variable-threshold', 'randomized-variable-threshold'])(
    'decides the same whether a %s stream is decided at once or resumed from stored JSON',
    (code) => {
      const params = { budgetShare: 0.15, window: 50 };
      const confidences = stream(700, 'resume', (t, u) => 0.4 + 0.3 * t + 0.3 * u);
      const whole = StreamSession.start(registry, code, params, 'seed');
      const expected = whole.decideBatch(confidences).steps;

      let session = StreamSession.start(registry, code, params, 'seed');
      const steps: StreamStep[] = [];
      for (let i = 0; i < confidences.length; i += 7) {
        steps.push(...session.decideBatch(confidences.subarray(i, i + 7)).steps);
        const stored = JSON.parse(JSON.stringify(session.state));
        session = StreamSession.resume(registry, code, params, stored);
      }
      expect(steps).toEqual(expected);
      expect(session.state).toEqual(whole.state);
    },
  );

  it('defers a query once the budget is spent, and moves the policy on as for the query', () => {
    const params = { budgetShare: 0.5, step: 0.1 };
    const confidences = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    const unlimited = StreamSession.start(registry, 'variable-threshold', params, 1);
    const limited = StreamSession.start(registry, 'variable-threshold', params, 1);
    const free = unlimited.decideBatch(confidences);
    const capped = limited.decideBatch(confidences, 2);
    expect(decisions(capped.steps)).toEqual(decisions(free.steps));
    expect(outcomes(capped.steps)).toEqual([
      'QUERIED',
      'SKIPPED',
      'QUERIED',
      'SKIPPED',
      'DEFERRED',
      'SKIPPED',
      'DEFERRED',
      'ACCEPTED',
    ]);
    expect(capped.budgetRemaining).toBe(0);
    expect(limited.state).toEqual({
      ...unlimited.state,
      queried: 2,
      deferred: 2,
    });
    expect(limited.state.policyState).toEqual(unlimited.state.policyState);
  });

  it('refuses to resume a stream with another policy, and a malformed state', () => {
    const session = StreamSession.start(registry, 'fixed-threshold', {}, 1);
    session.next(0.5);
    const e = badUserInput(() =>
      StreamSession.resume(registry, 'variable-threshold', {}, session.state),
    );
    expect(e.message).toMatch(/decided by the policy "fixed-threshold"; it cannot continue/);
    expect(() =>
      StreamSession.resume(registry, 'fixed-threshold', {}, { ...session.state, seen: 5 }),
    ).toThrow(/counters disagree/);
    expect(() =>
      StreamSession.resume(
        registry,
        'variable-threshold',
        {},
        {
          ...StreamSession.start(registry, 'variable-threshold', {}, 1).state,
          policyState: { threshold: 'high' },
        },
      ),
    ).toThrow(/does not match its stateSchema/);
  });

  it('rejects a confidence outside [0, 1] and leaves its state as it was', () => {
    const session = StreamSession.start(registry, 'variable-threshold', {}, 1);
    session.next(0.5);
    const before = session.state;
    expect(() => session.decideBatch([0.3, Number.NaN])).toThrow(
      /confidences\[1\] must be in \[0, 1\]/,
    );
    expect(() => session.next(1.2)).toThrow(RangeError);
    expect(session.state).toEqual(before);
  });

  it('checks params when it starts, naming the parameter', () => {
    expect(
      badUserInput(() => StreamSession.start(registry, 'variable-threshold', { window: -1 }, 1))
        .message,
    ).toMatch(/params\.window must be >= 0/);
  });
});

describe('the threshold in force', () => {
  it.each(['variable-threshold', 'randomized-variable-threshold'])(
    '%s accepts an item only at or above it, and skips the uncertain ones its pacing holds back',
    (code) => {
      // Mostly uncertain items: the policy is ahead of its pace most of the time.
      const confidences = stream(2000, `floor-${code}`, (_t, u) => 0.2 + 0.8 * u);
      const session = StreamSession.start(registry, code, { budgetShare: 0.1 }, 'seed-9');
      const { steps } = session.decideBatch(confidences);
      let skipped = 0;
      steps.forEach((s, i) => {
        expect(s.threshold).toBeGreaterThanOrEqual(0);
        expect(s.threshold).toBeLessThanOrEqual(1);
        if (s.outcome === 'ACCEPTED') expect(confidences[i]).toBeGreaterThanOrEqual(s.threshold);
        if (s.outcome === 'SKIPPED') {
          skipped += 1;
          expect(s.decision).toBe('ACCEPT');
          expect(confidences[i]).toBeLessThan(s.threshold);
        }
      });
      expect(skipped).toBeGreaterThan(100);
      const st = session.state;
      expect(st.requested + st.accepted + (st.skipped ?? 0)).toBe(st.seen);
      expect((session.state.policyState as { threshold: number }).threshold).toBeLessThanOrEqual(1);
    },
  );

  it('with a certified floor, accepts only items that also reach it', () => {
    const confidences = [0.5, 0.95, 0.97, 0.99, 0.999];
    const session = StreamSession.start(registry, 'fixed-threshold', { threshold: 0.9 }, 1);
    const { steps } = session.decideBatch(confidences, Infinity, [0.98, 0.98, 0.98, 0.98, 2]);
    expect(outcomes(steps)).toEqual(['QUERIED', 'SKIPPED', 'SKIPPED', 'ACCEPTED', 'SKIPPED']);
    expect(steps.map((s) => s.threshold)).toEqual([0.9, 0.98, 0.98, 0.98, 1]);
  });

  it('resumes a state stored before skipped items were counted', () => {
    const session = StreamSession.start(registry, 'fixed-threshold', { threshold: 0.9 }, 1);
    session.decideBatch([0.95, 0.5]);
    const { skipped: _skipped, ...old } = session.state;
    const resumed = StreamSession.resume(registry, 'fixed-threshold', { threshold: 0.9 }, old);
    expect(resumed.next(0.99).outcome).toBe('ACCEPTED');
  });
});
