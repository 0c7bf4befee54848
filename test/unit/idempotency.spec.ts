import { LabelItemInput } from '../../src/schema/label.types';
import { requestHash } from '../../src/services/idempotency';

const request = {
  source: 'HUMAN',
  labels: [
    { itemId: '1', value: 'cat', confidence: 0.9 },
    { externalId: 'x-2', value: 'dog', annotatorId: 'ann' },
  ],
};

describe('requestHash', () => {
  it('is a SHA-256 hex digest that does not change from call to call', () => {
    expect(requestHash(request)).toMatch(/^[0-9a-f]{64}$/);
    expect(requestHash(request)).toBe(requestHash(structuredClone(request)));
  });

  it('is the same whatever order the keys come in, at every depth', () => {
    const reordered = {
      labels: [
        { confidence: 0.9, value: 'cat', itemId: '1' },
        { annotatorId: 'ann', value: 'dog', externalId: 'x-2' },
      ],
      source: 'HUMAN',
    };
    expect(requestHash(reordered)).toBe(requestHash(request));
  });

  it('treats a field left undefined as a field left out', () => {
    const withUndefined = {
      ...request,
      labels: [{ ...request.labels[0], annotatorId: undefined }, request.labels[1]],
    };
    expect(requestHash(withUndefined)).toBe(requestHash(request));
  });

  it('is the same for the GraphQL input objects as for the plain JSON the client sent', () => {
    const inputs = request.labels.map((l) => Object.assign(new LabelItemInput(), l));
    expect(requestHash({ labels: inputs, source: 'HUMAN' })).toBe(requestHash(request));
  });

  it.each([
    ['another value', { ...request, source: 'IMPORT' }],
    [
      'a label changed deep inside',
      { ...request, labels: [{ ...request.labels[0], value: 'dog' }, request.labels[1]] },
    ],
    [
      'another confidence',
      { ...request, labels: [{ ...request.labels[0], confidence: 0.8 }, request.labels[1]] },
    ],
    ['the labels in another order', { ...request, labels: [...request.labels].reverse() }],
    ['one label fewer', { ...request, labels: [request.labels[0]] }],
    [
      'a number where a string was',
      { ...request, labels: [{ ...request.labels[0], itemId: 1 }, request.labels[1]] },
    ],
    ['an extra field', { ...request, idempotencyKey: 'k' }],
  ])('differs for %s', (_what, other) => {
    expect(requestHash(other)).not.toBe(requestHash(request));
  });

  it('cannot be fooled by a value that spells out other keys', () => {
    expect(requestHash({ a: 'x","b":"y' })).not.toBe(requestHash({ a: 'x', b: 'y' }));
    expect(requestHash({ 'a":"x","b': 'y' })).not.toBe(requestHash({ a: 'x', b: 'y' }));
    expect(requestHash(['a,b'])).not.toBe(requestHash(['a', 'b']));
  });

  it('treats a field sent as null like a field left out, as GraphQL does', () => {
    expect(requestHash({ labels: [{ itemId: '1', confidence: null }] })).toBe(
      requestHash({ labels: [{ itemId: '1' }] }),
    );
    expect(requestHash([null])).not.toBe(requestHash([]));
  });

  it('tells null, false, 0 and the empty string apart', () => {
    const hashes = [null, false, 0, '', [], {}].map((v) => requestHash({ v }));
    expect(new Set(hashes).size).toBe(hashes.length);
  });
});
