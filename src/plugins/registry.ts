import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { QuarryConfig } from '../config';
import { BadUserInputError, type InputProblem } from '../errors';
import type { Logger } from '../logger';

/** What a plugin's `init` gets: the server's configuration and a logger named after it. */
export interface PluginContext {
  config: QuarryConfig;
  logger: Logger;
}

/**
 * What every plugin has, whatever it plugs into (strategies, trainers, stream policies, synthesis
 * methods, and any later kind), after Vendure's `InjectableStrategy`.
 *
 * `init` and `destroy` run in the server's main thread only: once at start-up, before the
 * database is opened, in registration order (built-ins first, then the modules in the order
 * configured, kind by kind), and at shutdown in the reverse order. Worker threads that load the
 * same modules (inference, training) never call them: code that runs there must stand alone.
 */
export interface PluginLifecycle {
  /** Stable kebab-case identifier, e.g. `variable-threshold`. */
  readonly code: string;
  /** One or two sentences for people choosing one (and the paper, if it has one). */
  readonly description: string;
  /** Acquires what the plugin needs; a throw (or rejection) stops start-up. */
  init?(ctx: PluginContext): void | Promise<void>;
  /** Releases what `init` acquired. */
  destroy?(): void | Promise<void>;
}

/** A plugin whose options are called `params` (strategies, stream policies, synthesis methods). */
export interface Plugin extends PluginLifecycle {
  /**
   * JSON Schema (the subset ajv understands) of the parameters: an object schema whose
   * properties carry `default`s. Validated before any work starts.
   */
  readonly paramsSchema: Record<string, unknown>;
  /**
   * Checks across parameters that a schema cannot say clearly (`params.a` needs `params.b`).
   * Receives the parameters with their defaults applied and returns the problems found, each
   * naming its parameter (`{ field: 'params.expectedLength', message: 'is required with ...' }`);
   * the registry reports them like schema errors.
   */
  checkParams?(params: any): InputProblem[];
}

/**
 * Thrown at start-up when a plugin module cannot be registered or a plugin's `init` fails; names
 * the module and why. The one registration error of every plugin kind.
 */
export class PluginRegistrationError extends Error {
  override name = 'PluginRegistrationError';
}

/**
 * The definition of one kind of plugin: everything a {@link PluginRegistry} needs to know about
 * it. One constant per kind (`STRATEGY_KIND`, `TRAINER_KIND`, ...).
 */
export interface PluginKind {
  /** How messages name one plugin, e.g. `stream policy`. */
  noun: string;
  /**
   * How an unknown-code message lists the known ones: `Known strategies: a, b.` with a plural,
   * `Known: a, b.` without.
   */
  plural?: string;
  /** The array a plugin module exports, e.g. `policies`. */
  exportName: string;
  /** Absolute path of the compiled module of the built-ins, registered first. */
  builtinModule: string;
  /**
   * What the plugins' options are called: `params` (read from `paramsSchema`, checked by
   * `checkParams`) or `options` (`optionsSchema`, `checkOptions`). Messages name the path with
   * it: `params.size must be >= 1`.
   */
  optionsName: 'params' | 'options';
  /** Checks beyond the common fields; returns why the plugin is invalid, or nothing. */
  check?(plugin: Record<string, unknown>): string | undefined;
}

/** A plugin as registered: the plugin, where it came from, and its compiled options schema. */
export interface Registered<T extends PluginLifecycle> {
  plugin: T;
  /** Absolute path of the module that exports it; worker threads `require` it from there. */
  modulePath: string;
  validate: ValidateFunction;
}

const CODE_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** `params.a.b` for an ajv error at `/a/b`, or `params.x` for an unknown property `x`. */
function fieldOf(root: string, e: ErrorObject): string {
  if (e.instancePath) return `${root}${e.instancePath.replace(/\//g, '.')}`;
  if (e.params && 'additionalProperty' in e.params)
    return `${root}.${String(e.params.additionalProperty)}`;
  return root;
}

type OptionsChecker = (options: Record<string, unknown>) => InputProblem[];

/**
 * The plugins of one kind, by code: the built-ins' module first, then the configured plugin
 * modules, each exporting `{ [kind.exportName]: T[] }`. Sealed once loaded: nothing is added
 * while the server runs. A duplicate code (the message names both modules), a module that does
 * not load or lacks the export, an invalid plugin or options schema, or a schema whose defaults
 * do not validate stops start-up with a {@link PluginRegistrationError} naming the module.
 *
 * @example
 * ```ts
 * const policies = PluginRegistry.load<StreamPolicy>(STREAM_POLICY_KIND, config.streamPolicyModules);
 * const params = policies.params('variable-threshold', { budgetShare: 0.2 }); // defaults filled in
 * ```
 */
export class PluginRegistry<T extends PluginLifecycle> {
  private readonly byCode = new Map<string, Registered<T>>();
  private readonly ajv = new Ajv({ useDefaults: true, allErrors: true, strict: true });
  private sealed = false;
  /** The plugins whose `init` ran, in that order: `destroy` undoes them in reverse. */
  private readonly initialised: Registered<T>[] = [];

  private constructor(readonly kind: PluginKind) {}

  /** Registers the built-ins, then each plugin module in order (paths resolved from the cwd). */
  static load<T extends PluginLifecycle>(
    kind: PluginKind,
    pluginModules: readonly string[] = [],
  ): PluginRegistry<T> {
    const registry = new PluginRegistry<T>(kind);
    registry.registerModule(kind.builtinModule);
    for (const m of pluginModules) registry.registerModule(path.resolve(m));
    registry.sealed = true;
    return registry;
  }

  private get schemaKey(): string {
    return `${this.kind.optionsName}Schema`;
  }

  private checkerOf(plugin: T): OptionsChecker | undefined {
    const name = this.kind.optionsName === 'params' ? 'checkParams' : 'checkOptions';
    const fn = (plugin as unknown as Record<string, unknown>)[name];
    return typeof fn === 'function' ? (fn.bind(plugin) as OptionsChecker) : undefined;
  }

  private registerModule(modulePath: string): void {
    const { noun, exportName } = this.kind;
    if (this.sealed)
      throw new PluginRegistrationError(`The ${noun} registry is sealed once loaded.`);
    let mod: Record<string, unknown>;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require(modulePath);
    } catch (e) {
      throw new PluginRegistrationError(
        `The ${noun} module ${modulePath} could not be loaded: ${(e as Error).message}`,
      );
    }
    const list = mod[exportName];
    if (!Array.isArray(list)) {
      throw new PluginRegistrationError(
        `The ${noun} module ${modulePath} must export \`${exportName}\`, an array; it exports ${Object.keys(mod).join(', ') || 'nothing'}.`,
      );
    }
    list.forEach((p: unknown, i: number) => {
      const where = `${noun} #${i} of ${modulePath}`;
      const plugin = this.check(p, where);
      const existing = this.byCode.get(plugin.code);
      if (existing) {
        throw new PluginRegistrationError(
          `The ${noun} code "${plugin.code}" is registered twice: by ${existing.modulePath} and by ${modulePath}. Codes must be unique.`,
        );
      }
      const key = this.schemaKey;
      let validate: ValidateFunction;
      try {
        validate = this.ajv.compile((plugin as unknown as Record<string, object>)[key]);
      } catch (e) {
        throw new PluginRegistrationError(
          `${where} ("${plugin.code}") has an invalid ${key}: ${(e as Error).message}`,
        );
      }
      const defaults = {};
      if (!validate(defaults)) {
        throw new PluginRegistrationError(
          `${where} ("${plugin.code}"): its ${key}'s defaults do not validate: ${this.ajv.errorsText(validate.errors)}`,
        );
      }
      const problems = this.checkerOf(plugin)?.(defaults) ?? [];
      if (problems.length > 0) {
        throw new PluginRegistrationError(
          `${where} ("${plugin.code}"): its default ${this.kind.optionsName} fail its ${this.kind.optionsName === 'params' ? 'checkParams' : 'checkOptions'}: ${problems.map((q) => `${q.field} ${q.message}`).join('; ')}`,
        );
      }
      this.byCode.set(plugin.code, { plugin, modulePath, validate });
    });
  }

  private check(p: unknown, where: string): T {
    const fail = (why: string): never => {
      throw new PluginRegistrationError(`${where}: ${why}`);
    };
    if (!p || typeof p !== 'object') return fail('is not an object');
    const s = p as Record<string, unknown>;
    if (typeof s.code !== 'string' || !CODE_RE.test(s.code))
      fail(`code must be kebab-case (like "my-plugin"); got ${JSON.stringify(s.code)}`);
    if (typeof s.description !== 'string' || !s.description.trim())
      fail('description must be a non-empty string');
    const key = this.schemaKey;
    const schema = s[key] as { type?: unknown } | undefined;
    if (!schema || typeof schema !== 'object' || schema.type !== 'object')
      fail(`${key} must be a JSON Schema of type "object"`);
    for (const fn of ['checkParams', 'checkOptions', 'init', 'destroy']) {
      if (s[fn] !== undefined && typeof s[fn] !== 'function')
        fail(`${fn}, when given, must be a function`);
    }
    const why = this.kind.check?.(s);
    if (why) fail(why);
    return p as T;
  }

  /** Every registered plugin, by code. */
  list(): Registered<T>[] {
    return [...this.byCode.values()].sort((a, b) => (a.plugin.code < b.plugin.code ? -1 : 1));
  }

  /** The plugin, or BAD_USER_INPUT listing the known codes. */
  get(code: string): Registered<T> {
    const found = this.byCode.get(code);
    if (!found) {
      const { noun, plural } = this.kind;
      throw new BadUserInputError(
        `Unknown ${noun} ${JSON.stringify(code)}. Known${plural ? ` ${plural}` : ''}: ${[...this.byCode.keys()].sort().join(', ')}.`,
      );
    }
    return found;
  }

  /**
   * The options with their defaults applied (a copy; `given` is not changed; `undefined` and
   * `null` mean all defaults), or BAD_USER_INPUT naming each bad one by its path
   * (`params.step must be < 1`) and listing them in `extensions.problems`.
   */
  params(code: string, given?: unknown): Record<string, unknown> {
    const registered = this.get(code);
    const { validate } = registered;
    const root = this.kind.optionsName;
    if (
      given !== undefined &&
      given !== null &&
      (typeof given !== 'object' || Array.isArray(given))
    ) {
      throw new BadUserInputError(`${root} must be an object; got ${JSON.stringify(given)}.`);
    }
    const params = structuredClone((given ?? {}) as Record<string, unknown>);
    const word = root === 'params' ? 'a parameter' : 'an option';
    const problems: InputProblem[] = validate(params)
      ? (this.checkerOf(registered.plugin)?.(params) ?? [])
      : (validate.errors ?? []).map((e) => ({
          field: fieldOf(root, e),
          message:
            e.keyword === 'additionalProperties'
              ? `is not ${word} of this ${this.kind.noun}`
              : e.keyword === 'enum' && 'allowedValues' in e.params
                ? `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
                : (e.message ?? 'is invalid'),
        }));
    if (problems.length > 0) {
      throw new BadUserInputError(
        `Invalid ${root} for ${this.kind.noun} "${code}": ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}.`,
        problems,
      );
    }
    return params;
  }

  /**
   * Runs each plugin's `init`, in registration order. When one fails, those already initialised
   * are destroyed (in reverse) and a {@link PluginRegistrationError} naming the plugin and its
   * module is thrown.
   */
  async init(ctx: PluginContext): Promise<void> {
    const inOrder = [...this.byCode.values()];
    for (const registered of inOrder) {
      const { plugin, modulePath } = registered;
      if (!plugin.init) {
        this.initialised.push(registered);
        continue;
      }
      try {
        await plugin.init({ ...ctx, logger: ctx.logger.child({ plugin: plugin.code }) });
      } catch (e) {
        await this.destroy().catch(() => undefined);
        throw new PluginRegistrationError(
          `The ${this.kind.noun} "${plugin.code}" of ${modulePath} failed to start: ${(e as Error).message}`,
        );
      }
      this.initialised.push(registered);
    }
  }

  /**
   * Runs `destroy` of every initialised plugin, in the reverse order of `init`; every one runs
   * even when another fails, and the first failure is thrown at the end.
   */
  async destroy(): Promise<void> {
    let failure: unknown;
    while (this.initialised.length > 0) {
      const { plugin } = this.initialised.pop()!;
      try {
        await plugin.destroy?.();
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure !== undefined) throw failure;
  }
}
