import type { Dataset } from '../../src/entities';
import { checkImportItems } from '../../src/services/item.service';

const dataset = { classes: ['cat', 'dog'], featureDim: 2 } as Dataset;

describe('checkImportItems', () => {
  it('accepts external ids of 1 to 512 characters', () => {
    const { problems } = checkImportItems(dataset, [
      { externalId: 'a', features: [0, 1] },
      { externalId: 'x'.repeat(512), features: [0, 1] },
    ]);
    expect(problems).toEqual([]);
  });

  it('refuses an external id that is empty, too long or not text', () => {
    const { problems } = checkImportItems(dataset, [
      { externalId: '', features: [0, 1] },
      { externalId: 'x'.repeat(513), features: [0, 1] },
      { externalId: 42 as unknown as string, features: [0, 1] },
    ]);
    expect(problems.map((p) => [p.index, p.field, p.message])).toEqual([
      [0, 'externalId', 'must be 1 to 512 characters'],
      [1, 'externalId', 'must be 1 to 512 characters'],
      [2, 'externalId', 'must be 1 to 512 characters'],
    ]);
  });
});
