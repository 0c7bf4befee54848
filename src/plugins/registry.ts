import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { BadUserInputError, type InputProblem } from '../errors';

/**
 * What every plugin has, whatever it plugs into (stream policies, synthesis methods): the same
 * contract as the selection strategies of `src/strategies`.
 */
export interface Plugin {
  /** Stable kebab-case identifier, e.g. `variable-threshold`. */
  readonly code: string;
  /** One or two sentences for people choosing one (and the paper, if it has one). */
  readonly description: string;
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

/** Thrown at start-up when a plugin module cannot be registered; names the module and why. */
export class PluginRegistrationError extends Error {}

/** What a registry needs to know about the kind of plugin it holds. */
export interface PluginKind {
  /** How messages name one plugin, e.g. `stream policy`. */
  noun: string;
  /** The array a plugin module exports, e.g. `policies`. */
  exportName: string;
  /** Checks beyond the common fields; returns why the plugin is invalid, or nothing. */
  check?(plugin: Record<string, unknown>): string | undefined;
}

/** A plugin as registered: the plugin, where it came from, and its compiled params schema. */
export interface Registered<T extends Plugin> {
  plugin: T;
  /** Absolute path of the module that exports it. */
  modulePath: string;
  validate: ValidateFunction;
}

const CODE_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** `params.a.b` for an ajv error at `/a/b`, or `params.x` for an unknown property `x`. */
function fieldOf(e: ErrorObject): string {
  if (e.instancePath) return `params${e.instancePath.replace(/\//g, '.')}`;
  if (e.params && 'additionalProperty' in e.params)
    return `params.${String(e.params.additionalProperty)}`;
  return 'params';
}

/**
 * The plugins of one kind, by code: the built-ins' module first, then the configured plugin
 * modules, each exporting `{ [kind.exportName]: T[] }`. Sealed once loaded. A duplicate code, a
 * module without the export, an invalid plugin or parameter schema, or a schema whose defaults
 * do not validate stops start-up with a `PluginRegistrationError` naming the module.
 */
export class PluginRegistry<T extends Plugin> {
  private readonly byCode = new Map<string, Registered<T>>();
  private readonly ajv = new Ajv({ useDefaults: true, allErrors: true, strict: true });
  private sealed = false;

  private constructor(private readonly kind: PluginKind) {}

  /** Registers the built-in module, then each plugin module (paths resolved from the cwd). */
  static load<T extends Plugin>(
    kind: PluginKind,
    builtinModule: string,
    pluginModules: readonly string[] = [],
  ): PluginRegistry<T> {
    const registry = new PluginRegistry<T>(kind);
    registry.registerModule(builtinModule);
    for (const m of pluginModules) registry.registerModule(path.resolve(m));
    registry.sealed = true;
    return registry;
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
      let validate: ValidateFunction;
      try {
        validate = this.ajv.compile(plugin.paramsSchema);
      } catch (e) {
        throw new PluginRegistrationError(
          `${where} ("${plugin.code}") has an invalid paramsSchema: ${(e as Error).message}`,
        );
      }
      const defaults = {};
      if (!validate(defaults)) {
        throw new PluginRegistrationError(
          `${where} ("${plugin.code}"): its paramsSchema's defaults do not validate: ${this.ajv.errorsText(validate.errors)}`,
        );
      }
      const problems = plugin.checkParams?.(defaults) ?? [];
      if (problems.length > 0) {
        throw new PluginRegistrationError(
          `${where} ("${plugin.code}"): its default params fail its checkParams: ${problems.map((q) => `${q.field} ${q.message}`).join('; ')}`,
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
    const schema = s.paramsSchema as { type?: unknown } | undefined;
    if (!schema || typeof schema !== 'object' || schema.type !== 'object')
      fail('paramsSchema must be a JSON Schema of type "object"');
    if (s.checkParams !== undefined && typeof s.checkParams !== 'function')
      fail('checkParams, when given, must be a function');
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
      throw new BadUserInputError(
        `Unknown ${this.kind.noun} ${JSON.stringify(code)}. Known: ${[...this.byCode.keys()].sort().join(', ')}.`,
      );
    }
    return found;
  }

  /**
   * The parameters with their defaults applied (a copy; `given` is not changed), or
   * BAD_USER_INPUT naming each bad parameter (`params.step must be < 1`) and listing them in
   * `extensions.problems`.
   */
  params(code: string, given: unknown): Record<string, unknown> {
    const { plugin, validate } = this.get(code);
    if (
      given !== undefined &&
      given !== null &&
      (typeof given !== 'object' || Array.isArray(given))
    ) {
      throw new BadUserInputError(`params must be an object; got ${JSON.stringify(given)}.`);
    }
    const params = structuredClone((given ?? {}) as Record<string, unknown>);
    const problems: InputProblem[] = validate(params)
      ? (plugin.checkParams?.(params) ?? [])
      : (validate.errors ?? []).map((e) => ({
          field: fieldOf(e),
          message:
            e.keyword === 'additionalProperties'
              ? `is not a parameter of this ${this.kind.noun}`
              : (e.message ?? 'is invalid'),
        }));
    if (problems.length > 0) {
      throw new BadUserInputError(
        `Invalid params for ${this.kind.noun} "${code}": ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}.`,
        problems,
      );
    }
    return params;
  }
}
