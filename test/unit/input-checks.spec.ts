import { GraphQLError, graphql } from 'graphql';
import { buildSchema as buildSdl } from 'graphql';
import { guardArguments } from '../../src/schema/input-guard';
import { INPUT_LIMITS, jsonProblem, textProblem } from '../../src/services/validate';
import { nonFiniteRows, withoutRows } from '../../src/workers/finite-rows';

describe('textProblem', () => {
  it('accepts text with paired surrogates (an emoji) and no NUL', () => {
    expect(textProblem('cat \u{1F408}', 100)).toBeUndefined();
  });

  it.each([
    ['a lone high surrogate', 'sur\ud800x', /lone surrogate \(U\+D800\) at position 3/],
    ['a lone low surrogate', '\udc00', /lone surrogate \(U\+DC00\) at position 0/],
    ['a high surrogate at the end', 'ab\ud83d', /at position 2/],
    ['a NUL', 'a\u0000b', /NUL characters \(U\+0000\); found one at position 1/],
  ])('names %s', (_what, text, problem) => {
    expect(textProblem(text, 100)).toMatch(problem);
  });

  it('names a length over the limit', () => {
    expect(textProblem('xxxx', 3)).toBe('must be at most 3 characters; got 4');
    expect(textProblem('xxx', 3)).toBeUndefined();
  });
});

describe('jsonProblem', () => {
  const deep = (n: number) => {
    let v: unknown = 1;
    for (let i = 0; i < n; i++) v = [v];
    return v;
  };

  it('accepts plain JSON up to the depth limit', () => {
    expect(jsonProblem({ a: [1, 'b', null, true, { c: 'd' }] })).toBeUndefined();
    expect(jsonProblem(deep(INPUT_LIMITS.maxJsonDepth))).toBeUndefined();
  });

  it('refuses nesting one deeper than the limit, and 100,000 deep without running out of stack', () => {
    expect(jsonProblem(deep(INPUT_LIMITS.maxJsonDepth + 1))).toMatch(/at most 32 deep/);
    expect(jsonProblem(deep(100_000))).toMatch(/at most 32 deep/);
  });

  it('refuses NUL and lone surrogates in strings and keys, and values over the size limit', () => {
    expect(jsonProblem({ a: ['x\u0000'] })).toMatch(/^holds a string that must not contain NUL/);
    expect(jsonProblem({ ['k\ud800']: 1 })).toMatch(/^holds a key that must be well-formed/);
    const limits = { ...INPUT_LIMITS, maxJsonChars: 100 };
    expect(jsonProblem({ a: 'x'.repeat(90) }, limits)).toBeUndefined();
    expect(jsonProblem({ a: 'x'.repeat(100) }, limits)).toMatch(/at most 100 characters/);
    expect(
      jsonProblem(
        Array.from({ length: 50 }, () => 1),
        limits,
      ),
    ).toMatch(/at most 100/);
  });
});

describe('guardArguments', () => {
  const schema = guardArguments(
    buildSdl(`
      scalar JSON
      input Item { externalId: String!, features: [Float!]!, payload: JSON }
      type Query { ok(name: String, items: [Item!], onnxBase64: String): Boolean }
    `),
    { ...INPUT_LIMITS, maxStringChars: 5 },
  );
  const ran: unknown[] = [];
  const rootValue = { ok: (args: unknown) => ran.push(args) > 0 };
  const call = async (query: string, variableValues: Record<string, unknown> = {}) => {
    ran.length = 0;
    return graphql({ schema, source: query, rootValue, variableValues });
  };

  it('runs the resolver for good input', async () => {
    const res = await call('query($i: [Item!]) { ok(name: "abc", items: $i) }', {
      i: [{ externalId: 'a', features: [1, 2], payload: { t: 'x' } }],
    });
    expect(res.errors).toBeUndefined();
    expect(ran).toHaveLength(1);
  });

  it('refuses a bad string deep in a list of input objects, naming its path, before the resolver runs', async () => {
    const res = await call('query($i: [Item!]) { ok(items: $i) }', {
      i: [
        { externalId: 'a', features: [] },
        { externalId: 'b', features: [], payload: { t: ['\u0000'] } },
      ],
    });
    const error = res.errors![0] as GraphQLError;
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/^items\[1\]\.payload holds a string that must not contain NUL/);
    expect(error.extensions.problems).toEqual([
      { field: 'items[1].payload', message: expect.stringMatching(/NUL/) },
    ]);
    expect(ran).toHaveLength(0);
  });

  it('applies the length limit to strings but not to onnxBase64', async () => {
    expect((await call('{ ok(name: "abcdef") }')).errors![0].message).toBe(
      'name must be at most 5 characters; got 6.',
    );
    expect((await call('{ ok(onnxBase64: "abcdefgh") }')).errors).toBeUndefined();
  });
});

describe('nonFiniteRows and withoutRows', () => {
  it('finds the rows of which any matrix holds NaN or Infinity, and drops them', () => {
    const probs = Float32Array.of(0.5, 0.5, NaN, 1, 0.2, 0.8, 0.1, 0.9);
    const embed = Float32Array.of(1, 2, 3, Infinity);
    const bad = nonFiniteRows(
      [
        { data: probs, width: 2 },
        { data: embed, width: 1 },
      ],
      4,
    );
    expect(Array.from(bad)).toEqual([1, 3]);
    expect(Array.from(withoutRows(probs, 2, bad))).toEqual([
      0.5, 0.5, 0.20000000298023224, 0.800000011920929,
    ]);
    expect(withoutRows(BigInt64Array.of(10n, 11n, 12n, 13n), 1, bad)).toEqual(
      BigInt64Array.of(10n, 12n),
    );
  });

  it('keeps everything when every row is finite', () => {
    const bad = nonFiniteRows([{ data: Float32Array.of(1, 2, 3), width: 3 }], 1);
    expect(bad).toHaveLength(0);
  });
});
