import path from 'node:path';
import { PluginRegistry, type PluginKind } from '../registry';
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

/** Synthesis methods: modules export `methods: SynthesisMethod[]` (QUARRY_SYNTHESIS_MODULES). */
export const SYNTHESIS_METHOD_KIND: PluginKind = {
  noun: 'synthesis method',
  exportName: 'methods',
  builtinModule: BUILTIN_METHODS_MODULE,
  optionsName: 'params',
  check: checkMethod,
};

/** Loads the built-in synthesis methods and the given plugin modules, then seals the registry. */
export function loadSynthesisMethods(
  pluginModules: readonly string[] = [],
): SynthesisMethodRegistry {
  return PluginRegistry.load<SynthesisMethod<any>>(SYNTHESIS_METHOD_KIND, pluginModules);
}
