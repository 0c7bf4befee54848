/**
 * Query cost control, in one place for HTTP (Apollo) and WebSocket (graphql-ws) alike: a token
 * limit at parse time (graphql-js's own `maxTokens`), depth and alias limits as validation rules
 * (graphql-armor), and a computed cost per operation (graphql-query-complexity) where a list
 * field costs its `first` (or an assumed size) times what is selected under it.
 */
import {
  GraphQLError,
  Kind,
  getNamedType,
  getNullableType,
  isLeafType,
  isListType,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationRule,
} from 'graphql';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { ApolloServerPlugin } from '@apollo/server';
import type { EdgeLimits } from '../config';
import type { ApiKey } from '../entities';
import { QueryTooComplexError } from '../errors';
import { DEFAULT_PAGE_SIZE } from '../services/pagination';

/** The part of the edge limits that is about one operation. */
export type QueryLimits = Pick<
  EdgeLimits,
  'maxQueryDepth' | 'maxQueryAliases' | 'maxQueryTokens' | 'maxQueryCost' | 'unpaginatedListSize'
>;

/**
 * The cost of one field: 0 for a scalar, 1 for an object, plus what is selected under it times
 * how many elements it may hold: its `first` argument (the page size when absent), or
 * `unpaginatedListSize` for a list without one. Connection `edges` are not multiplied again
 * (their `first` was counted on the connection field); introspection costs nothing.
 */
function fieldCost(unpaginatedListSize: number): ComplexityEstimator {
  return ({ type, field, args, childComplexity }) => {
    if (field.name.startsWith('__')) return 0;
    const own = isLeafType(getNamedType(field.type)) ? 0 : 1;
    let elements = 1;
    if (field.args.some((a) => a.name === 'first')) {
      const first: unknown = args.first;
      elements = typeof first === 'number' && first >= 0 ? first : DEFAULT_PAGE_SIZE;
    } else if (isListType(getNullableType(field.type)) && !type.name.endsWith('Connection')) {
      elements = unpaginatedListSize;
    }
    return own + elements * childComplexity;
  };
}

/** What every entry point (HTTP, WebSocket) applies to the operations it runs. */
export interface OperationLimits {
  /** For Apollo's `parseOptions` (and the WebSocket parse). */
  parseOptions: { maxTokens?: number };
  /** Depth and alias rules, for Apollo's `validationRules`. */
  validationRules: ValidationRule[];
  /** The operation's cost; QUERY_TOO_COMPLEX over the limit. */
  cost(document: DocumentNode, operationName?: string | null, variables?: object | null): number;
  /**
   * An Apollo plugin that computes the cost once the operation is known and hands it to
   * `charge` (the rate limiter), after refusing it over the limit.
   */
  apolloPlugin<C extends { key: ApiKey }>(
    charge: (context: C, cost: number) => Promise<void>,
  ): ApolloServerPlugin<C>;
  /**
   * graphql-ws `onSubscribe`: parses under the token limit, validates with the same rules and
   * computes the cost, answering the errors (coded) or the arguments to execute.
   */
  prepare(payload: {
    query: string;
    operationName?: string | null;
    variables?: Record<string, unknown> | null;
  }): { args: Pick<ExecutionArgs, 'document' | 'operationName' | 'variableValues'>; cost: number };
}

/** graphql-js's message when the lexer stops at `maxTokens`. */
const TOO_MANY_TOKENS = /Document contains more t[a-z]+ (\d+) tokens/;

/**
 * The coded error for a parse or validation error that is one of these limits (the token
 * limit is reported by graphql-js as a syntax error; depth and aliases by graphql-armor), or
 * undefined for any other error.
 */
export function limitErrorOf(error: unknown): QueryTooComplexError | undefined {
  if (!(error instanceof GraphQLError)) return undefined;
  const original = error.originalError;
  if (original instanceof QueryTooComplexError) return original;
  const tokens = TOO_MANY_TOKENS.exec(error.message);
  if (tokens) {
    return new QueryTooComplexError(
      `The document has more than ${tokens[1]} tokens (QUARRY_MAX_QUERY_TOKENS); send a smaller operation, with its values as variables.`,
      'tokens',
      Number(tokens[1]),
    );
  }
  return undefined;
}

/** The limits of `limits` over `schema`; a limit of 0 is off. */
export function operationLimits(schema: GraphQLSchema, limits: QueryLimits): OperationLimits {
  const validationRules: ValidationRule[] = [];
  // graphql-armor reports through these callbacks: the error becomes Quarry's own, coded.
  if (limits.maxQueryDepth > 0) {
    validationRules.push(
      maxDepthRule({
        n: limits.maxQueryDepth,
        ignoreIntrospection: true,
        flattenFragments: true,
        propagateOnRejection: false,
        onReject: [
          (ctx, error) =>
            ctx?.reportError(
              new GraphQLError(error.message, {
                originalError: new QueryTooComplexError(
                  `The operation is nested deeper than ${limits.maxQueryDepth} fields (QUARRY_MAX_QUERY_DEPTH); ask for less at once.`,
                  'depth',
                  limits.maxQueryDepth,
                  foundIn(error.message),
                ),
              }),
            ),
        ],
      }),
    );
  }
  if (limits.maxQueryAliases > 0) {
    validationRules.push(
      maxAliasesRule({
        n: limits.maxQueryAliases,
        propagateOnRejection: false,
        onReject: [
          (ctx, error) =>
            ctx?.reportError(
              new GraphQLError(error.message, {
                originalError: new QueryTooComplexError(
                  `The operation has more than ${limits.maxQueryAliases} aliases (QUARRY_MAX_QUERY_ALIASES); send several smaller operations.`,
                  'aliases',
                  limits.maxQueryAliases,
                  foundIn(error.message),
                ),
              }),
            ),
        ],
      }),
    );
  }
  const estimators = [fieldCost(limits.unpaginatedListSize)];
  // The costs of the operations seen, by document (Apollo hands the same parsed document for the
  // same text), operation and the variables a cost can depend on: a claim or a submit repeated by
  // every annotator is costed once, not on every request (the traversal was ~5% of their CPU).
  const costs = new WeakMap<DocumentNode, Map<string, number>>();
  const cost = (
    document: DocumentNode,
    operationName?: string | null,
    variables?: object | null,
  ): number => {
    const key = costKey(document, operationName, variables);
    const known = key === undefined ? undefined : costs.get(document)?.get(key);
    if (known !== undefined) return known;
    const n = computeCost(document, operationName, variables);
    if (key !== undefined) {
      let byKey = costs.get(document);
      if (!byKey) costs.set(document, (byKey = new Map()));
      // Bounded: an operation sent with ever new page sizes starts its memory again.
      if (byKey.size >= MAX_COSTS_PER_DOCUMENT) byKey.clear();
      byKey.set(key, n);
    }
    return n;
  };
  const computeCost = (
    document: DocumentNode,
    operationName?: string | null,
    variables?: object | null,
  ): number => {
    let n: number;
    try {
      n = getComplexity({
        schema,
        query: document,
        operationName: operationName ?? undefined,
        variables: costVariables(document, operationName, variables),
        estimators,
      });
    } catch (e) {
      // Fragments spread into each other can multiply the nodes far beyond the tokens.
      if (/maximum allowed number of nodes/.test((e as Error).message)) {
        throw new QueryTooComplexError(
          'The operation expands to too many fields (through its fragments); ask for less at once.',
          'cost',
          limits.maxQueryCost,
        );
      }
      // Variables that do not fit the operation: execution refuses them (BAD_USER_INPUT) before
      // anything is resolved.
      return 0;
    }
    if (limits.maxQueryCost > 0 && n > limits.maxQueryCost) {
      throw new QueryTooComplexError(
        `The operation costs ${n}, more than the ${limits.maxQueryCost} allowed (QUARRY_MAX_QUERY_COST): every object field costs 1, times the page size (first) of the lists around it. Ask for smaller pages or fewer fields.`,
        'cost',
        limits.maxQueryCost,
        n,
      );
    }
    return n;
  };
  const parseOptions = limits.maxQueryTokens > 0 ? { maxTokens: limits.maxQueryTokens } : {};
  return {
    parseOptions,
    validationRules,
    cost,
    apolloPlugin: (charge) => ({
      async requestDidStart() {
        return {
          async didResolveOperation({ document, request, operationName, contextValue }) {
            await charge(contextValue, cost(document, operationName, request.variables));
          },
        };
      },
    }),
    prepare: (payload) => {
      let document: DocumentNode;
      try {
        document = parse(payload.query, parseOptions);
      } catch (e) {
        throw limitErrorOf(e) ?? e;
      }
      const errors = validate(schema, document, [...specifiedRules, ...validationRules]);
      if (errors.length > 0) {
        const limit = limitErrorOf(errors[0]);
        if (limit) throw limit;
        throw errors;
      }
      return {
        args: {
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
        },
        cost: cost(document, payload.operationName, payload.variables),
      };
    },
  };
}

/**
 * The variables the cost is computed with: each list given for a variable of list type becomes
 * empty. The cost reads only `first` arguments, never a list's elements, but
 * graphql-query-complexity coerces every variable first: for an import of 10,000 items that was
 * a second full coercion of the request (about 110 ms of each 10,000-item `importItems` on the
 * bench). Execution still coerces (and refuses) the real values.
 */
function costVariables(
  document: DocumentNode,
  operationName?: string | null,
  variables?: object | null,
): Record<string, unknown> {
  const given = (variables ?? {}) as Record<string, unknown>;
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode =>
      d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
  if (!operation?.variableDefinitions?.length) return given;
  let out: Record<string, unknown> | undefined;
  for (const def of operation.variableDefinitions) {
    const type = def.type.kind === Kind.NON_NULL_TYPE ? def.type.type : def.type;
    const name = def.variable.name.value;
    if (type.kind === Kind.LIST_TYPE && Array.isArray(given[name]) && given[name].length > 0) {
      out ??= { ...given };
      out[name] = [];
    }
  }
  return out ?? given;
}

/** Costs kept per document, at most (see `operationLimits`). */
const MAX_COSTS_PER_DOCUMENT = 64;

/**
 * What an operation's cost can depend on besides its document: the operation's name and the
 * values of its variables of scalar types other than ID and String (`first` is an Int;
 * `@include`/`@skip` take Booleans; lists are costed empty, see {@link costVariables}). Ids,
 * tokens, texts and input objects never change a cost, so requests differing only in them share
 * one. Undefined (not kept) when a variable's type is not plain.
 */
function costKey(
  document: DocumentNode,
  operationName?: string | null,
  variables?: object | null,
): string | undefined {
  const given = (variables ?? {}) as Record<string, unknown>;
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode =>
      d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
  if (!operation) return undefined;
  const parts: unknown[] = [operationName ?? null];
  for (const def of operation.variableDefinitions ?? []) {
    const type = def.type.kind === Kind.NON_NULL_TYPE ? def.type.type : def.type;
    if (type.kind !== Kind.NAMED_TYPE) continue;
    const typeName = type.name.value;
    if (typeName === 'ID' || typeName === 'String') continue;
    const value = given[def.variable.name.value];
    // An input object may hold a page size somewhere: costed each time.
    if (value !== null && typeof value === 'object') return undefined;
    parts.push(value ?? null);
  }
  return JSON.stringify(parts);
}

/** The number graphql-armor found, from its message (`..., found 14.`). */
function foundIn(message: string): number | undefined {
  const m = /found (\d+)/.exec(message);
  return m ? Number(m[1]) : undefined;
}
