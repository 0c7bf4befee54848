import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Ajv, { type ValidateFunction } from 'ajv';
import { BadUserInputError } from '../../errors';
import { checkTrainInput, type TrainingData } from './data';
import type { TrainedModel, Trainer, TrainerModule } from './types';

/** A trainer as registered: the plugin plus where it came from (workers load it from there). */
export interface RegisteredTrainer {
  trainer: Trainer;
  /** Absolute path of the module that exports it; worker threads `require` it. */
  modulePath: string;
  validate: ValidateFunction;
}

/** What {@link TrainerRegistry.train} gives back. */
export interface TrainOutcome {
  model: TrainedModel;
  /** The options the trainer ran with: the given ones completed with the schema's defaults. */
  options: Record<string, unknown>;
  /** Training rows of each class, `classCount` entries. */
  classCounts: number[];
  /** Wall time of `trainer.train`, in seconds. */
  seconds: number;
}

/** Thrown at start-up when a plugin module cannot be registered; names the module and why. */
export class TrainerRegistrationError extends Error {
  override name = 'TrainerRegistrationError';
}

const CODE_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** The built-in trainers' module (compiled), registered first. */
export const BUILTIN_TRAINERS_MODULE = path.join(__dirname, 'builtin', 'index.js');

function check(trainer: unknown, where: string): asserts trainer is Trainer {
  const t = trainer as Partial<Trainer> & Record<string, unknown>;
  const fail = (why: string): never => {
    throw new TrainerRegistrationError(`${where}: ${why}`);
  };
  if (!t || typeof t !== 'object') fail('is not an object');
  if (typeof t.code !== 'string' || !CODE_RE.test(t.code)) {
    fail(`code must be kebab-case (like "my-trainer"); got ${JSON.stringify(t.code)}`);
  }
  if (typeof t.description !== 'string' || !t.description.trim()) {
    fail('description must be a non-empty string');
  }
  if (
    !t.optionsSchema ||
    typeof t.optionsSchema !== 'object' ||
    (t.optionsSchema as { type?: unknown }).type !== 'object'
  ) {
    fail('optionsSchema must be a JSON Schema of type "object"');
  }
  if (typeof t.train !== 'function') fail('a trainer needs train()');
}

/**
 * All registered trainers, by code. Built once at start-up from the built-ins (`softmax`, `mlp`)
 * and the configured plugin modules, then sealed: a duplicate code, a module without a
 * `trainers` export, or an options schema whose defaults do not validate stops start-up with a
 * message naming the module.
 *
 * @example
 * ```ts
 * const registry = TrainerRegistry.load();
 * const options = registry.options('mlp', { hiddenUnits: 32 }); // defaults filled in
 * ```
 */
export class TrainerRegistry {
  private readonly byCode = new Map<string, RegisteredTrainer>();
  private readonly ajv = new Ajv({ useDefaults: true, allErrors: true, strict: true });
  /** Set once loading is done: no trainer is added while the server runs. */
  private sealed = false;

  /** The built-ins, then each plugin module in order (paths resolved from the working directory). */
  static load(pluginModules: readonly string[] = []): TrainerRegistry {
    const registry = new TrainerRegistry();
    registry.registerModule(BUILTIN_TRAINERS_MODULE);
    for (const m of pluginModules) registry.registerModule(path.resolve(m));
    registry.sealed = true;
    return registry;
  }

  private registerModule(modulePath: string): void {
    if (this.sealed) {
      throw new TrainerRegistrationError('The trainer registry is sealed once loaded.');
    }
    let mod: Partial<TrainerModule>;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require(modulePath);
    } catch (e) {
      throw new TrainerRegistrationError(
        `Trainer module ${modulePath} could not be loaded: ${(e as Error).message}`,
      );
    }
    if (!Array.isArray(mod.trainers)) {
      throw new TrainerRegistrationError(
        `Trainer module ${modulePath} must export \`trainers\`, an array of trainers; it exports ${Object.keys(mod).join(', ') || 'nothing'}.`,
      );
    }
    mod.trainers.forEach((t, i) => {
      const where = `Trainer #${i} of ${modulePath}`;
      check(t, where);
      const existing = this.byCode.get(t.code);
      if (existing) {
        throw new TrainerRegistrationError(
          `Trainer code "${t.code}" is registered twice: by ${existing.modulePath} and by ${modulePath}. Codes must be unique.`,
        );
      }
      let validate: ValidateFunction;
      try {
        validate = this.ajv.compile(t.optionsSchema);
      } catch (e) {
        throw new TrainerRegistrationError(
          `${where} ("${t.code}") has an invalid optionsSchema: ${(e as Error).message}`,
        );
      }
      if (!validate({})) {
        throw new TrainerRegistrationError(
          `${where} ("${t.code}"): its optionsSchema's defaults do not validate: ${this.ajv.errorsText(validate.errors)}`,
        );
      }
      this.byCode.set(t.code, { trainer: t, modulePath, validate });
    });
  }

  /** Every trainer, by code. */
  list(): RegisteredTrainer[] {
    return [...this.byCode.values()].sort((a, b) => (a.trainer.code < b.trainer.code ? -1 : 1));
  }

  /** The trainer, or BAD_USER_INPUT listing the known codes. */
  get(code: string): RegisteredTrainer {
    const found = this.byCode.get(code);
    if (!found) {
      throw new BadUserInputError(
        `Unknown trainer ${JSON.stringify(code)}. Known trainers: ${[...this.byCode.keys()].sort().join(', ')}.`,
      );
    }
    return found;
  }

  /**
   * The options with their defaults applied (a copy; `given` is not changed), or BAD_USER_INPUT
   * naming each bad option, e.g. `options.epochs must be >= 1`. `undefined` and `null` mean
   * all defaults.
   */
  options(code: string, given?: unknown): Record<string, unknown> {
    const { validate } = this.get(code);
    if (
      given !== undefined &&
      given !== null &&
      (typeof given !== 'object' || Array.isArray(given))
    ) {
      throw new BadUserInputError(`options must be an object; got ${JSON.stringify(given)}.`);
    }
    const options = structuredClone((given ?? {}) as Record<string, unknown>);
    if (!validate(options)) {
      const problems = (validate.errors ?? []).map((e) => {
        const field = e.instancePath
          ? `options${e.instancePath.replace(/\//g, '.')}`
          : e.params && 'additionalProperty' in e.params
            ? `options.${String(e.params.additionalProperty)}`
            : 'options';
        const message =
          e.keyword === 'additionalProperties'
            ? 'is not an option of this trainer'
            : e.keyword === 'enum' && 'allowedValues' in e.params
              ? `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
              : (e.message ?? 'is invalid');
        return { field, message };
      });
      throw new BadUserInputError(
        `Invalid options for trainer "${code}": ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}.`,
        problems,
      );
    }
    return options;
  }

  /**
   * Validates the options and the data, then trains. Synchronous and CPU-bound: on the server,
   * run it in a worker (`src/workers/trainer.worker.ts`, `TrainerPool`).
   *
   * @throws BadUserInputError for an unknown trainer, bad options or unusable data (see
   *   `checkTrainInput`)
   */
  train(code: string, data: TrainingData, options?: unknown): TrainOutcome {
    const { trainer } = this.get(code);
    const resolved = this.options(code, options);
    const classCounts = checkTrainInput(data);
    const started = performance.now();
    const model = trainer.train({ ...data, options: resolved });
    const seconds = (performance.now() - started) / 1000;
    return { model, options: resolved, classCounts, seconds };
  }
}
