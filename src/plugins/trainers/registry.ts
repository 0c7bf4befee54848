import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PluginRegistry, type PluginKind } from '../registry';
import { checkTrainInput, type TrainingData } from './data';
import type { TrainedModel, Trainer } from './types';

/** All registered trainers, by code; `params(code, options)` completes a trainer's options. */
export type TrainerRegistry = PluginRegistry<Trainer<any>>;

/** What {@link trainWith} gives back. */
export interface TrainOutcome {
  model: TrainedModel;
  /** The options the trainer ran with: the given ones completed with the schema's defaults. */
  options: Record<string, unknown>;
  /** Training rows of each class, `classCount` entries. */
  classCounts: number[];
  /** Wall time of `trainer.train`, in seconds. */
  seconds: number;
}

/** The built-in trainers' module (compiled), registered first. */
export const BUILTIN_TRAINERS_MODULE = path.join(__dirname, 'builtin', 'index.js');

/** Trainers: modules export `trainers: Trainer[]` (QUARRY_TRAINER_MODULES). */
export const TRAINER_KIND: PluginKind = {
  noun: 'trainer',
  plural: 'trainers',
  exportName: 'trainers',
  builtinModule: BUILTIN_TRAINERS_MODULE,
  optionsName: 'options',
  check: (t) => (typeof t.train !== 'function' ? 'a trainer needs train()' : undefined),
};

/**
 * Loads the built-in trainers (`softmax`, `mlp`) and the given plugin modules, then seals the
 * registry. The trainer worker loads the same modules by path.
 *
 * @example
 * ```ts
 * const trainers = loadTrainers();
 * const options = trainers.params('mlp', { hiddenUnits: 32 }); // defaults filled in
 * ```
 */
export function loadTrainers(pluginModules: readonly string[] = []): TrainerRegistry {
  return PluginRegistry.load<Trainer<any>>(TRAINER_KIND, pluginModules);
}

/**
 * Validates the options and the data, then trains. Synchronous and CPU-bound: on the server,
 * run it in a worker (`trainer.worker.ts`, `TrainerPool`).
 *
 * @throws BadUserInputError for an unknown trainer, bad options or unusable data (see
 *   `checkTrainInput`)
 */
export function trainWith(
  registry: TrainerRegistry,
  code: string,
  data: TrainingData,
  options?: unknown,
): TrainOutcome {
  const { plugin: trainer } = registry.get(code);
  const resolved = registry.params(code, options);
  const classCounts = checkTrainInput(data);
  const started = performance.now();
  const model = trainer.train({ ...data, options: resolved });
  const seconds = (performance.now() - started) / 1000;
  return { model, options: resolved, classCounts, seconds };
}
