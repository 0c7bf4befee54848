/**
 * Type-level tests: this file compiles only while the SDK's types hold. Each
 * `@ts-expect-error` pins a mistake that must not compile (an unused one fails the build).
 */
import {
  ClaimQueriesDocument,
  DatasetDocument,
  QuarryClient,
  QuarryError,
  type Claim,
  type Dataset,
  type QuarryErrorCode,
} from '@quarry/client';
import { expectTypeOf } from 'expect-type';

const client = new QuarryClient({ url: 'http://localhost:4000/graphql' });

async function typeChecks(): Promise<void> {
  const { dataset } = await client.request(DatasetDocument, { id: '1' });
  expectTypeOf(dataset.name).toEqualTypeOf<string>();
  expectTypeOf(dataset.labelBudget).toEqualTypeOf<number | null>();
  expectTypeOf(dataset.budget.remaining).toEqualTypeOf<number | null>();
  // @ts-expect-error a field the document does not select
  void dataset.items;

  // @ts-expect-error a required variable missing
  await client.request(DatasetDocument);
  // @ts-expect-error a variable the operation does not declare
  await client.request(DatasetDocument, { id: '1', name: 'x' });
  // @ts-expect-error a variable of the wrong type
  await client.request(ClaimQueriesDocument, { datasetId: '1', count: 'two', leaseSeconds: 60 });

  const datasets = await client.datasets.list();
  expectTypeOf(datasets).toEqualTypeOf<Dataset[]>();
  // @ts-expect-error featureDim is required
  await client.datasets.create({ name: 'x', classes: ['a', 'b'] });
  // @ts-expect-error an unknown split
  await client.items.import('1', [{ externalId: 'a', features: [1], split: 'TRAIN' }]);

  const [claim] = await client.queue.claim('1', 1);
  expectTypeOf(claim).toEqualTypeOf<Claim>();
  expectTypeOf(claim.query.item.features).toEqualTypeOf<number[]>();
  expectTypeOf(claim.query.preLabel).toEqualTypeOf<{
    value: string;
    confidence: number;
    modelId: string;
    modelVersion: number | null;
  } | null>();
  // @ts-expect-error a decision must be a class name, { value }, { skip } or { release }
  await client.queue.work('1', () => 3);
  await client.queue.work('1', (c) => (c.query.preLabel ? c.query.preLabel.value : { skip: true }));

  try {
    await client.rounds.start({ datasetId: '1', strategy: 'random', size: 10 });
  } catch (e) {
    if (e instanceof QuarryError) {
      expectTypeOf(e.code).toEqualTypeOf<QuarryErrorCode>();
      expectTypeOf(e.problems[0].message).toEqualTypeOf<string>();
      // @ts-expect-error not one of the codes
      if (e.code === 'NOT_A_CODE') return;
    }
  }
}

describe('client SDK types', () => {
  it('compiles only while wrong fields and variables are rejected (see the file)', () => {
    expect(typeof typeChecks).toBe('function');
  });
});
