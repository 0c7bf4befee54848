import fs from 'node:fs';
import path from 'node:path';
import {
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  parse,
  specifiedRules,
  typeFromAST,
  validate,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { DEFAULT_CONFIG } from '../../src/config';
import { operationLimits } from '../../src/http/limits';
import { buildQuarrySchema } from '../../src/schema/build';

/** A value of `type` (required input fields filled in): pages at their largest, 1,000. */
function sample(type: GraphQLInputType, name: string): unknown {
  if (isNonNullType(type)) return sample(type.ofType, name);
  if (isListType(type)) return [sample(type.ofType, name)];
  if (isEnumType(type)) return type.getValues()[0].value;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type));
    return Object.fromEntries(fields.map((f) => [f.name, sample(f.type, f.name)]));
  }
  switch (type.name) {
    case 'Int':
      return name === 'first' ? 1000 : 100;
    case 'Float':
      return 0.5;
    case 'Boolean':
      return true;
    default:
      return 'x';
  }
}

function variablesOf(schema: GraphQLSchema, op: OperationDefinitionNode): Record<string, unknown> {
  return Object.fromEntries(
    (op.variableDefinitions ?? []).map((v) => [
      v.variable.name.value,
      sample(typeFromAST(schema, v.type as never) as GraphQLInputType, v.variable.name.value),
    ]),
  );
}

const DOCUMENTS = path.resolve(__dirname, '../../../packages/client/src/documents');

describe('the default query limits', () => {
  it('let every operation of the SDK through, at its largest page size', async () => {
    const schema = await buildQuarrySchema();
    const limits = operationLimits(schema, DEFAULT_CONFIG.edge);
    const files = fs.readdirSync(DOCUMENTS).filter((f) => f.endsWith('.graphql'));
    expect(files.length).toBeGreaterThan(0);
    const source = files.map((f) => fs.readFileSync(path.join(DOCUMENTS, f), 'utf8')).join('\n');
    const document = parse(source, limits.parseOptions);
    const errors = validate(schema, document, [...specifiedRules, ...limits.validationRules]);
    expect(errors.map((e) => e.message)).toEqual([]);
    const operations = document.definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === 'OperationDefinition',
    );
    expect(operations.length).toBeGreaterThan(10);
    const costs: Record<string, number> = {};
    for (const op of operations) {
      costs[op.name!.value] = limits.cost(document, op.name!.value, variablesOf(schema, op));
    }
    // Costs were computed (a listing costs its page size), all within the limit.
    expect(costs.Items).toBeGreaterThan(1000);
    expect(Math.max(...Object.values(costs))).toBeLessThanOrEqual(DEFAULT_CONFIG.edge.maxQueryCost);
  });
});

describe('the cost of an operation, kept per document', () => {
  const text = `query Page($d: ID!, $n: Int, $withItems: Boolean!) {
    labelQueue(datasetId: $d, first: $n) { edges { node { id item @include(if: $withItems) { id } } } }
  }`;

  it('is computed again when a page size or a directive changes, not when an id does', async () => {
    const schema = await buildQuarrySchema();
    const limits = operationLimits(schema, DEFAULT_CONFIG.edge);
    const document = parse(text);
    const of = (vars: Record<string, unknown>) => limits.cost(document, 'Page', vars);
    const ten = of({ d: 'a', n: 10, withItems: true });
    expect(of({ d: 'b', n: 10, withItems: true })).toBe(ten);
    expect(of({ d: 'a', n: 100, withItems: true })).toBeGreaterThan(ten);
    expect(of({ d: 'a', n: 10, withItems: false })).toBeLessThan(ten);
    // The same answers again, from what was kept.
    expect(of({ d: 'c', n: 10, withItems: true })).toBe(ten);
    expect(of({ d: 'a', n: 10, withItems: false })).toBeLessThan(ten);
  });

  it('refuses an operation over the limit on every request, not only the first', async () => {
    const schema = await buildQuarrySchema();
    const limits = operationLimits(schema, { ...DEFAULT_CONFIG.edge, maxQueryCost: 50 });
    const document = parse(text);
    for (let i = 0; i < 3; i++) {
      expect(() => limits.cost(document, 'Page', { d: 'a', n: 100, withItems: true })).toThrow(
        /more than the 50 allowed/,
      );
    }
  });
});
