import { codeOf, describeEachDb } from '../helpers/server';

const CREATE = `mutation($input: CreateDatasetInput!) {
  createDataset(input: $input) { id name description classes featureDim labelBudget annotationsPerItem createdAt updatedAt }
}`;

describeEachDb('datasets', (t) => {
  it('creates a dataset with its classes in order and reads it back', async () => {
    const { createDataset } = await t().ok(CREATE, {
      input: {
        name: 'animals',
        classes: ['cat', 'dog', 'bird'],
        featureDim: 8,
        labelBudget: 100,
        description: 'pets',
      },
    });
    expect(createDataset).toMatchObject({
      name: 'animals',
      description: 'pets',
      classes: ['cat', 'dog', 'bird'],
      featureDim: 8,
      labelBudget: 100,
      annotationsPerItem: 1,
    });
    const { dataset } = await t().ok('query($id: ID!) { dataset(id: $id) { id name classes } }', {
      id: createDataset.id,
    });
    expect(dataset).toEqual({
      id: createDataset.id,
      name: 'animals',
      classes: ['cat', 'dog', 'bird'],
    });
    const { datasets } = await t().ok('{ datasets(first: 1000) { nodes { name } } }');
    expect(datasets.nodes.map((d: { name: string }) => d.name)).toContain('animals');
  });

  it('refuses a second dataset with the same name with CONFLICT', async () => {
    await t().ok(CREATE, { input: { name: 'twice', classes: ['a', 'b'], featureDim: 2 } });
    const res = await t().gql(CREATE, {
      input: { name: 'twice', classes: ['x', 'y'], featureDim: 3 },
    });
    expect(codeOf(res)).toBe('CONFLICT');
    const rows = await t().sql("SELECT count(*)::int AS n FROM dataset WHERE name = 'twice'");
    expect(rows[0].n).toBe(1);
  });

  it.each([
    ['fewer than two classes', { name: 'bad1', classes: ['only'], featureDim: 2 }, 'classes'],
    ['a repeated class', { name: 'bad2', classes: ['a', 'a'], featureDim: 2 }, 'classes'],
    [
      'a feature length of zero',
      { name: 'bad3', classes: ['a', 'b'], featureDim: 0 },
      'featureDim',
    ],
    [
      'a negative budget',
      { name: 'bad4', classes: ['a', 'b'], featureDim: 2, labelBudget: -1 },
      'labelBudget',
    ],
    [
      'zero annotations per item',
      { name: 'bad5', classes: ['a', 'b'], featureDim: 2, annotationsPerItem: 0 },
      'annotationsPerItem',
    ],
    ['an empty name', { name: '  ', classes: ['a', 'b'], featureDim: 2 }, 'name'],
  ])('refuses %s with BAD_USER_INPUT naming the field', async (_what, input, field) => {
    const res = await t().gql(CREATE, { input });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].message).toContain(field);
    const rows = await t().sql('SELECT count(*)::int AS n FROM dataset WHERE name = $1', [
      input.name,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it('updates settings, appends classes, and removes the budget with an explicit null', async () => {
    const { createDataset: d } = await t().ok(CREATE, {
      input: { name: 'upd', classes: ['a', 'b'], featureDim: 2, labelBudget: 5 },
    });
    const UPDATE = `mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { name classes labelBudget annotationsPerItem description } }`;
    const { updateDataset } = await t().ok(UPDATE, {
      id: d.id,
      input: { addClasses: ['c'], annotationsPerItem: 3, description: 'new' },
    });
    expect(updateDataset).toEqual({
      name: 'upd',
      classes: ['a', 'b', 'c'],
      labelBudget: 5,
      annotationsPerItem: 3,
      description: 'new',
    });
    const { updateDataset: cleared } = await t().ok(UPDATE, {
      id: d.id,
      input: { labelBudget: null },
    });
    expect(cleared.labelBudget).toBeNull();
    const bad = await t().gql(UPDATE, { id: d.id, input: { addClasses: ['a'] } });
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
    const [row] = await t().sql('SELECT classes FROM dataset WHERE id = $1', [d.id]);
    expect(row.classes).toEqual(['a', 'b', 'c']);
  });

  it('answers NOT_FOUND for a dataset that does not exist', async () => {
    const res = await t().gql(
      'query { dataset(id: "00000000-0000-4000-8000-000000000000") { id } }',
    );
    expect(codeOf(res)).toBe('NOT_FOUND');
    const malformed = await t().gql('query { dataset(id: "nope") { id } }');
    expect(codeOf(malformed)).toBe('NOT_FOUND');
  });

  it('answers GraphQL syntax errors with GRAPHQL_PARSE_FAILED', async () => {
    const res = await t().gql('query { datasets { id }');
    expect(codeOf(res)).toBe('GRAPHQL_PARSE_FAILED');
  });
});
