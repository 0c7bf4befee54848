import type { Plugin, PluginRegistry } from '../../src/plugins/registry';
import {
  className,
  loadReferenced,
  toMetricsNode,
  toPluginNode,
  toPredictionNode,
} from '../../src/resolvers/shapes';

describe('API shapes of stored rows', () => {
  it('names a class index by its class, or by the index when the class is missing', () => {
    expect(className(['cat', 'dog'], 1)).toBe('dog');
    expect(className(['cat', 'dog'], 2)).toBe('2');
    expect(className(undefined, 0)).toBe('0');
  });

  it('shows a prediction with its class name and nothing of the stored row besides', () => {
    const createdAt = new Date('2026-01-01T00:00:00Z');
    const row = { itemId: '7', datasetId: '3', modelId: '5', predictedClass: 1 };
    expect(toPredictionNode({ ...row, confidence: 0.75, createdAt }, ['cat', 'dog'])).toEqual({
      modelId: '5',
      classIndex: 1,
      value: 'dog',
      confidence: 0.75,
      createdAt,
    });
  });

  it('shows per-class metrics under their class names', () => {
    const perClass = [
      { precision: 1, recall: 0.5, f1: 0.67, support: 2 },
      { precision: 0.5, recall: 1, f1: 0.67, support: 1 },
    ];
    const metrics = {
      rows: 3,
      accuracy: 2 / 3,
      perClass,
      confusion: [
        [1, 1],
        [0, 1],
      ],
    };
    const node = toMetricsNode(metrics, ['cat']);
    expect(node?.perClass.map((c) => c.value)).toEqual(['cat', '1']);
    expect(toMetricsNode(null, ['cat'])).toBeNull();
  });

  it('describes a plugin with the defaults its registry fills in', () => {
    const plugin: Plugin = {
      code: 'margin',
      description: 'Smallest margin first.',
      paramsSchema: { type: 'object' },
    };
    const registry = { params: () => ({ step: 1 }) } as unknown as PluginRegistry<Plugin>;
    expect(toPluginNode(registry, plugin)).toEqual({
      code: 'margin',
      description: 'Smallest margin first.',
      paramsSchema: { type: 'object' },
      defaults: { step: 1 },
    });
  });

  it('loads a referenced record, and names the broken reference when it is missing', async () => {
    const loader = { load: (id: string) => Promise.resolve(id === '1' ? { id } : null) };
    await expect(loadReferenced(loader, '1', 'item', 'query 7')).resolves.toEqual({ id: '1' });
    await expect(loadReferenced(loader, '2', 'item', 'query 7')).rejects.toThrow(
      'item 2 of query 7 is missing',
    );
  });
});
