/**
 * The one check of every string and JSON value that enters the API, whatever field takes it:
 * each argument of each field (queries, mutations, subscriptions, nested fields with arguments)
 * is walked by its GraphQL type before the resolver runs, and a string that is not well-formed
 * UTF-16, holds a NUL character or is too long, or a JSON value nested too deep or too large, is
 * refused with BAD_USER_INPUT naming the field (`items[3].externalId`). The resolver never runs,
 * so such a request writes nothing.
 */
import {
  defaultFieldResolver,
  getNullableType,
  isInputObjectType,
  isListType,
  isObjectType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLFieldResolver,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { BadUserInputError } from '../errors';
import { INPUT_LIMITS, jsonProblem, textProblem, type InputLimits } from '../services/validate';

/**
 * Arguments whose own limit is checked by the service that takes them, not by
 * {@link InputLimits.maxStringChars}: a model file in base64 (limited by `maxModelBytes`), and
 * an item's feature vector in base64 (it must decode to exactly the dataset's `featureDim`
 * floats; 10,000 characters would refuse every vector wider than 1,875 floats).
 */
export const OWN_LENGTH_LIMIT: ReadonlySet<string> = new Set(['onnxBase64', 'featuresBase64']);

const STRING_SCALARS = new Set(['String', 'ID']);
const JSON_SCALARS = new Set(['JSON', 'JSONObject']);

type Path = (string | number)[];

function pathText(path: Path): string {
  return path.reduce<string>(
    (s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p),
    '',
  );
}

/** Checks the input values of fields, remembering which input types carry no text at all. */
class InputWalker {
  private readonly carriesText = new Map<string, boolean>();

  constructor(private readonly limits: InputLimits) {}

  /** BAD_USER_INPUT for the first bad string or JSON value among `args`. */
  check(defs: readonly GraphQLArgument[], args: Record<string, unknown>): void {
    for (const def of defs) {
      const value = args[def.name];
      if (value !== undefined && value !== null) this.value(def.type, value, [def.name]);
    }
  }

  private value(type: GraphQLInputType, value: unknown, path: Path): void {
    if (value === null || value === undefined) return;
    const t = getNullableType(type);
    if (!this.hasText(t)) return;
    if (isListType(t)) {
      if (!Array.isArray(value)) return this.value(t.ofType, value, path);
      for (let i = 0; i < value.length; i++) this.value(t.ofType, value[i], [...path, i]);
    } else if (isInputObjectType(t)) {
      const fields = t.getFields();
      for (const name of Object.keys(fields)) {
        const v = (value as Record<string, unknown>)[name];
        if (v !== undefined && v !== null) this.value(fields[name].type, v, [...path, name]);
      }
    } else if (isScalarType(t)) {
      let problem: string | undefined;
      if (JSON_SCALARS.has(t.name)) problem = jsonProblem(value, this.limits);
      else if (typeof value === 'string') {
        const last = path[path.length - 1];
        const max = OWN_LENGTH_LIMIT.has(String(last)) ? Infinity : this.limits.maxStringChars;
        problem = textProblem(value, max);
      }
      if (problem) {
        const field = pathText(path);
        throw new BadUserInputError(`${field} ${problem}.`, [{ field, message: problem }]);
      }
    }
  }

  /** Whether values of `type` may hold a string or JSON (a list of floats never does). */
  private hasText(type: GraphQLInputType): boolean {
    const t = getNullableType(type);
    if (isListType(t)) return this.hasText(t.ofType);
    if (isScalarType(t)) return STRING_SCALARS.has(t.name) || JSON_SCALARS.has(t.name);
    if (!isInputObjectType(t)) return false;
    const known = this.carriesText.get(t.name);
    if (known !== undefined) return known;
    // Input types may refer to themselves: assume no until the fields say otherwise.
    this.carriesText.set(t.name, false);
    const carries = Object.values(t.getFields()).some((f) => this.hasText(f.type));
    this.carriesText.set(t.name, carries);
    return carries;
  }
}

/**
 * Wraps the resolver (for subscriptions: the subscribe function) of every field with arguments
 * in `schema` so that its arguments are checked first; returns the same schema.
 */
export function guardArguments(
  schema: GraphQLSchema,
  limits: InputLimits = INPUT_LIMITS,
): GraphQLSchema {
  const walker = new InputWalker(limits);
  const subscription = schema.getSubscriptionType();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.args.length === 0) continue;
      const defs = field.args;
      if (type === subscription && field.subscribe) {
        const subscribe = field.subscribe;
        field.subscribe = (source, args, context, info) => {
          walker.check(defs, args);
          return subscribe(source, args, context, info);
        };
        continue;
      }
      const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context, info) => {
        walker.check(defs, args);
        return resolve(source, args, context, info);
      };
    }
  }
  return schema;
}
