import path from 'node:path';
import { PluginRegistry } from '../registry';
import type { SynthesisMethod } from './types';

/** The built-in methods' module (compiled), registered first. */
export const BUILTIN_METHODS_MODULE = path.join(__dirname, 'builtin', 'index.js');

/** All registered synthesis methods, by code. */
export type SynthesisMethodRegistry = PluginRegistry<SynthesisMethod<any>>;

function checkMethod(m: Record<string, unknown>): string | undefined {
  if (typeof m.synthesize !== 'function') return 'a synthesis method needs synthesize()';
  if (m.checkInput !== undefined && typeof m.checkInput !== 'function')
    return 'checkInput, when given, must be a function';
  return undefined;
}

/**
 * Loads the built-in synthesis methods and the given plugin modules (each exporting
 * `methods: SynthesisMethod[]`), then seals the registry. A duplicate code or an invalid method
 * stops start-up with a `PluginRegistrationError` naming the module.
 */
export function loadSynthesisMethods(
  pluginModules: readonly string[] = [],
): SynthesisMethodRegistry {
  return PluginRegistry.load<SynthesisMethod<any>>(
    { noun: 'synthesis method', exportName: 'methods', check: checkMethod },
    BUILTIN_METHODS_MODULE,
    pluginModules,
  );
}
