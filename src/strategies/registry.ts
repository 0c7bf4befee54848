import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { BadUserInputError } from '../errors';
import type { Strategy, StrategyModule, StrategyNeed } from './types';

/** A strategy as registered: the plugin plus where it came from (workers load it from there). */
export interface RegisteredStrategy {
  strategy: Strategy;
  /** Absolute path of the module that exports it; worker threads `require` it. */
  modulePath: string;
  validate: ValidateFunction;
}

/** Thrown at start-up when a plugin module cannot be registered; names the module and why. */
export class StrategyRegistrationError extends Error {}

const CODE_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const NEEDS: readonly StrategyNeed[] = ['PROBABILITIES', 'EMBEDDINGS', 'COMMITTEE'];

/** The built-in strategies' module (compiled), registered first. */
export const BUILTIN_MODULE = path.join(__dirname, 'builtin', 'index.js');

function check(strategy: unknown, where: string): asserts strategy is Strategy {
  const s = strategy as Partial<Strategy> & Record<string, unknown>;
  const fail = (why: string) => {
    throw new StrategyRegistrationError(`${where}: ${why}`);
  };
  if (!s || typeof s !== 'object') fail('is not an object');
  if (typeof s.code !== 'string' || !CODE_RE.test(s.code)) {
    fail(`code must be kebab-case (like "my-strategy"); got ${JSON.stringify(s.code)}`);
  }
  if (typeof s.description !== 'string' || !s.description.trim())
    fail('description must be a non-empty string');
  if (!Array.isArray(s.needs) || s.needs.some((n) => !NEEDS.includes(n as StrategyNeed))) {
    fail(`needs must be a list of ${NEEDS.join(', ')}; got ${JSON.stringify(s.needs)}`);
  }
  if (
    !s.paramsSchema ||
    typeof s.paramsSchema !== 'object' ||
    (s.paramsSchema as { type?: unknown }).type !== 'object'
  ) {
    fail('paramsSchema must be a JSON Schema of type "object"');
  }
  if (s.kind === 'pointwise') {
    if (typeof s.score !== 'function' || typeof s.reason !== 'function')
      fail('a pointwise strategy needs score() and reason()');
    if (!Array.isArray(s.needs) || s.needs.length === 0) {
      fail(
        'a pointwise strategy scores model outputs inside the inference workers: its needs must name at least one',
      );
    }
  } else if (s.kind === 'batch') {
    if (typeof s.select !== 'function' || typeof s.candidatePool !== 'function') {
      fail('a batch strategy needs select() and candidatePool()');
    }
  } else {
    fail(`kind must be "pointwise" or "batch"; got ${JSON.stringify(s.kind)}`);
  }
}

/**
 * All registered strategies, by code. Built once at start-up from the built-ins and the
 * configured plugin modules, then frozen: a duplicate code, a module without a `strategies`
 * export, or an invalid parameter schema stops start-up with a message naming the module.
 */
export class StrategyRegistry {
  private readonly byCode = new Map<string, RegisteredStrategy>();
  private readonly ajv = new Ajv({ useDefaults: true, allErrors: true, strict: true });

  static load(pluginModules: readonly string[] = []): StrategyRegistry {
    const registry = new StrategyRegistry();
    registry.registerModule(BUILTIN_MODULE);
    for (const m of pluginModules) registry.registerModule(path.resolve(m));
    registry.sealed = true;
    return registry;
  }

  /** Set once start-up has registered everything: no strategy is added while the server runs. */
  private sealed = false;

  private registerModule(modulePath: string): void {
    if (this.sealed)
      throw new StrategyRegistrationError('The strategy registry is sealed once loaded.');
    let mod: Partial<StrategyModule>;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require(modulePath);
    } catch (e) {
      throw new StrategyRegistrationError(
        `Strategy module ${modulePath} could not be loaded: ${(e as Error).message}`,
      );
    }
    if (!Array.isArray(mod.strategies)) {
      throw new StrategyRegistrationError(
        `Strategy module ${modulePath} must export \`strategies\`, an array of strategies; it exports ${Object.keys(mod).join(', ') || 'nothing'}.`,
      );
    }
    mod.strategies.forEach((s, i) => {
      const where = `Strategy #${i} of ${modulePath}`;
      check(s, where);
      const existing = this.byCode.get(s.code);
      if (existing) {
        throw new StrategyRegistrationError(
          `Strategy code "${s.code}" is registered twice: by ${existing.modulePath} and by ${modulePath}. Codes must be unique.`,
        );
      }
      let validate: ValidateFunction;
      try {
        validate = this.ajv.compile(s.paramsSchema);
      } catch (e) {
        throw new StrategyRegistrationError(
          `${where} ("${s.code}") has an invalid paramsSchema: ${(e as Error).message}`,
        );
      }
      const defaults = {};
      if (!validate(defaults)) {
        throw new StrategyRegistrationError(
          `${where} ("${s.code}"): its paramsSchema's defaults do not validate: ${this.ajv.errorsText(validate.errors)}`,
        );
      }
      this.byCode.set(s.code, { strategy: s, modulePath, validate });
    });
  }

  list(): RegisteredStrategy[] {
    return [...this.byCode.values()].sort((a, b) => (a.strategy.code < b.strategy.code ? -1 : 1));
  }

  /** The strategy, or BAD_USER_INPUT listing the known codes. */
  get(code: string): RegisteredStrategy {
    const found = this.byCode.get(code);
    if (!found) {
      throw new BadUserInputError(
        `Unknown strategy ${JSON.stringify(code)}. Known strategies: ${[...this.byCode.keys()].sort().join(', ')}.`,
      );
    }
    return found;
  }

  /** The parameters with their defaults applied, or BAD_USER_INPUT naming each bad parameter. */
  params(code: string, given: unknown): Record<string, unknown> {
    const { validate } = this.get(code);
    if (
      given !== undefined &&
      given !== null &&
      (typeof given !== 'object' || Array.isArray(given))
    ) {
      throw new BadUserInputError(`params must be an object; got ${JSON.stringify(given)}.`);
    }
    const params = structuredClone((given ?? {}) as Record<string, unknown>);
    if (!validate(params)) {
      const problems = (validate.errors ?? []).map((e) => {
        const name = e.instancePath
          ? `params${e.instancePath.replace(/\//g, '.')}`
          : e.params && 'additionalProperty' in e.params
            ? `params.${String(e.params.additionalProperty)}`
            : 'params';
        const message =
          e.keyword === 'additionalProperties'
            ? 'is not a parameter of this strategy'
            : (e.message ?? 'is invalid');
        return { field: name, message };
      });
      throw new BadUserInputError(
        `Invalid params for strategy "${code}": ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}.`,
        problems,
      );
    }
    return params;
  }
}
