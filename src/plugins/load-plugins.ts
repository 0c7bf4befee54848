import type { QuarryConfig } from '../config';
import { loadStrategies, type StrategyRegistry } from '../strategies/registry';
import type { PluginContext, PluginLifecycle, PluginRegistry } from './registry';
import { loadStreamPolicies, type StreamPolicyRegistry } from './stream-policies/registry';
import { loadSynthesisMethods, type SynthesisMethodRegistry } from './synthesis/registry';
import { loadTrainers, type TrainerRegistry } from './trainers/registry';

/** Every plugin registry of a server, loaded from its configuration. */
export interface Plugins {
  strategies: StrategyRegistry;
  trainers: TrainerRegistry;
  streamPolicies: StreamPolicyRegistry;
  synthesisMethods: SynthesisMethodRegistry;
  /**
   * Runs every plugin's `init`, kind by kind in the order above. When one fails, everything
   * already initialised is destroyed, in reverse, before the error is thrown.
   */
  init(ctx: PluginContext): Promise<void>;
  /** Runs every initialised plugin's `destroy`, in the reverse order of `init`. */
  destroy(): Promise<void>;
}

/**
 * Loads and checks every plugin kind from the configuration (`QUARRY_STRATEGY_MODULES`,
 * `QUARRY_TRAINER_MODULES`, `QUARRY_STREAM_POLICY_MODULES`, `QUARRY_SYNTHESIS_MODULES`): the
 * first step of start-up, before the database, the job queue or any worker thread exists, so a
 * bad plugin module stops the server with nothing to clean up. Synchronous: it only `require`s.
 *
 * @throws PluginRegistrationError naming the module at fault
 */
export function loadPlugins(
  config: Pick<
    QuarryConfig,
    'strategyModules' | 'trainerModules' | 'streamPolicyModules' | 'synthesisModules'
  >,
): Plugins {
  const strategies = loadStrategies(config.strategyModules);
  const trainers = loadTrainers(config.trainerModules);
  const streamPolicies = loadStreamPolicies(config.streamPolicyModules);
  const synthesisMethods = loadSynthesisMethods(config.synthesisModules);
  const ordered: PluginRegistry<PluginLifecycle>[] = [
    strategies,
    trainers,
    streamPolicies,
    synthesisMethods,
  ];
  const started: PluginRegistry<PluginLifecycle>[] = [];
  const destroy = async () => {
    let failure: unknown;
    while (started.length > 0) {
      try {
        await started.pop()!.destroy();
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure !== undefined) throw failure;
  };
  return {
    strategies,
    trainers,
    streamPolicies,
    synthesisMethods,
    async init(ctx) {
      for (const registry of ordered) {
        try {
          await registry.init(ctx);
        } catch (e) {
          await destroy().catch(() => undefined);
          throw e;
        }
        started.push(registry);
      }
    },
    destroy,
  };
}
