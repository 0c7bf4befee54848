import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { PluginRegistry, type PluginKind } from '../registry';
import type { StreamPolicy } from './types';

/** The built-in policies' module (compiled), registered first. */
export const BUILTIN_POLICIES_MODULE = path.join(__dirname, 'builtin', 'index.js');

/** All registered stream policies, by code. */
export type StreamPolicyRegistry = PluginRegistry<StreamPolicy<any, any>>;

const stateAjv = new Ajv({ allErrors: true, strict: true });
const stateValidators = new WeakMap<object, ValidateFunction>();

/**
 * The compiled `stateSchema` of a policy (compiled once per policy object). Throws when the
 * schema does not compile.
 */
export function stateValidatorOf(policy: StreamPolicy<any, any>): ValidateFunction {
  let validate = stateValidators.get(policy);
  if (!validate) {
    validate = stateAjv.compile(policy.stateSchema);
    stateValidators.set(policy, validate);
  }
  return validate;
}

function checkPolicy(p: Record<string, unknown>): string | undefined {
  if (typeof p.initialState !== 'function' || typeof p.decide !== 'function')
    return 'a stream policy needs initialState() and decide()';
  const schema = p.stateSchema as { type?: unknown } | undefined;
  if (!schema || typeof schema !== 'object' || schema.type !== 'object')
    return 'stateSchema must be a JSON Schema of type "object"';
  try {
    stateValidatorOf(p as unknown as StreamPolicy<any, any>);
  } catch (e) {
    return `stateSchema is invalid: ${(e as Error).message}`;
  }
  return undefined;
}

/** Stream policies: modules export `policies: StreamPolicy[]` (QUARRY_STREAM_POLICY_MODULES). */
export const STREAM_POLICY_KIND: PluginKind = {
  noun: 'stream policy',
  exportName: 'policies',
  builtinModule: BUILTIN_POLICIES_MODULE,
  optionsName: 'params',
  check: checkPolicy,
};

/**
 * Loads the built-in stream policies and the given plugin modules, then seals the registry.
 *
 * @example
 * const policies = loadStreamPolicies(config.streamPolicyModules);
 * const params = policies.params('variable-threshold', { budgetUnits: 500, expectedLength: 10000 });
 */
export function loadStreamPolicies(pluginModules: readonly string[] = []): StreamPolicyRegistry {
  return PluginRegistry.load<StreamPolicy<any, any>>(STREAM_POLICY_KIND, pluginModules);
}
