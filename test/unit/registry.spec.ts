import path from 'node:path';
import { StrategyRegistrationError, StrategyRegistry } from '../../src/strategies/registry';

const plugin = (name: string) => path.resolve(__dirname, '../fixtures/plugins', `${name}.js`);

function startupError(modules: string[]): StrategyRegistrationError {
  try {
    StrategyRegistry.load(modules);
  } catch (e) {
    expect(e).toBeInstanceOf(StrategyRegistrationError);
    return e as StrategyRegistrationError;
  }
  throw new Error('the registry loaded');
}

describe('the strategy registry', () => {
  it('registers the built-ins and a plugin module, each under its code', () => {
    const registry = StrategyRegistry.load([plugin('prefer-class')]);
    const codes = registry.list().map((r) => r.strategy.code);
    expect(codes).toContain('margin');
    expect(codes).toContain('prefer-class');
    expect(registry.get('prefer-class').modulePath).toBe(plugin('prefer-class'));
  });

  it('stops start-up on a duplicate code, naming both modules', () => {
    const e = startupError([plugin('duplicate-margin')]);
    expect(e.message).toContain('"margin" is registered twice');
    expect(e.message).toContain(plugin('duplicate-margin'));
    expect(e.message).toContain(path.join('strategies', 'builtin'));
  });

  it('stops start-up on a module without a strategies export, naming it', () => {
    const e = startupError([plugin('no-export')]);
    expect(e.message).toContain(plugin('no-export'));
    expect(e.message).toContain('must export `strategies`');
  });

  it('stops start-up on an invalid parameter schema, naming the module and the strategy', () => {
    const e = startupError([plugin('bad-schema')]);
    expect(e.message).toContain(plugin('bad-schema'));
    expect(e.message).toContain('"bad-schema"');
    expect(e.message).toContain('paramsSchema');
  });

  it('stops start-up on a pointwise strategy that needs no model output', () => {
    const e = startupError([plugin('pointwise-no-needs')]);
    expect(e.message).toContain(plugin('pointwise-no-needs'));
    expect(e.message).toContain('needs must name at least one');
  });

  it('stops start-up on a module that cannot be loaded', () => {
    const e = startupError(['/nowhere/plugin.js']);
    expect(e.message).toContain('/nowhere/plugin.js could not be loaded');
  });

  it('applies parameter defaults and names bad parameters', () => {
    const registry = StrategyRegistry.load([plugin('prefer-class')]);
    expect(registry.params('prefer-class', {})).toEqual({ classIndex: 0 });
    expect(registry.params('prefer-class', { classIndex: 3 })).toEqual({ classIndex: 3 });
    expect(() => registry.params('prefer-class', { classIndex: -1 })).toThrow(
      /params\.classIndex must be >= 0/,
    );
    expect(() => registry.params('prefer-class', { extra: 1 })).toThrow(
      /params\.extra is not a parameter/,
    );
    expect(() => registry.params('prefer-class', [])).toThrow(/params must be an object/);
    expect(() => registry.get('nope')).toThrow(
      /Unknown strategy "nope"\. Known strategies: .*margin/,
    );
  });

  it('takes no more strategies once loaded', () => {
    const registry = StrategyRegistry.load();
    const register = (
      registry as unknown as { registerModule(p: string): void }
    ).registerModule.bind(registry);
    expect(() => register(plugin('prefer-class'))).toThrow(/sealed/);
    expect(() => registry.get('prefer-class')).toThrow(/Unknown strategy/);
  });
});
