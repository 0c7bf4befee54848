import path from 'node:path';
import { PluginRegistry, type PluginKind } from '../plugins/registry';
import type { Strategy, StrategyNeed } from './types';

/** All registered strategies, by code. */
export type StrategyRegistry = PluginRegistry<Strategy>;

const NEEDS: readonly StrategyNeed[] = ['PROBABILITIES', 'EMBEDDINGS', 'COMMITTEE'];

/** The built-in strategies' module (compiled), registered first. */
export const BUILTIN_STRATEGIES_MODULE = path.join(__dirname, 'builtin', 'index.js');

function checkStrategy(s: Record<string, unknown>): string | undefined {
  if (!Array.isArray(s.needs) || s.needs.some((n) => !NEEDS.includes(n as StrategyNeed)))
    return `needs must be a list of ${NEEDS.join(', ')}; got ${JSON.stringify(s.needs)}`;
  if (s.kind === 'pointwise') {
    if (typeof s.score !== 'function' || typeof s.reason !== 'function')
      return 'a pointwise strategy needs score() and reason()';
    if (s.needs.length === 0)
      return 'a pointwise strategy scores model outputs inside the inference workers: its needs must name at least one';
    return undefined;
  }
  if (s.kind === 'batch') {
    if (typeof s.select !== 'function' || typeof s.candidatePool !== 'function')
      return 'a batch strategy needs select() and candidatePool()';
    return undefined;
  }
  return `kind must be "pointwise" or "batch"; got ${JSON.stringify(s.kind)}`;
}

/** Selection strategies: modules export `strategies: Strategy[]` (QUARRY_STRATEGY_MODULES). */
export const STRATEGY_KIND: PluginKind = {
  noun: 'strategy',
  plural: 'strategies',
  exportName: 'strategies',
  builtinModule: BUILTIN_STRATEGIES_MODULE,
  optionsName: 'params',
  check: checkStrategy,
};

/**
 * Loads the built-in strategies and the given plugin modules, then seals the registry. Inference
 * and simulation workers load the same modules by path.
 *
 * @example
 * const strategies = loadStrategies(config.strategyModules);
 * const params = strategies.params('margin', {});
 */
export function loadStrategies(pluginModules: readonly string[] = []): StrategyRegistry {
  return PluginRegistry.load<Strategy>(STRATEGY_KIND, pluginModules);
}
