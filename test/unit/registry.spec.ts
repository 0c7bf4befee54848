import { DEFAULT_CS } from '../../src/plugins/trainers/softmax-regression';
import path from 'node:path';
import { BadUserInputError } from '../../src/errors';
import { logger } from '../../src/logger';
import { loadConfig } from '../../src/config';
import { loadPlugins } from '../../src/plugins/load-plugins';
import {
  PluginRegistrationError,
  type PluginContext,
  type PluginLifecycle,
  type PluginRegistry,
} from '../../src/plugins/registry';
import { loadStreamPolicies } from '../../src/plugins/stream-policies/registry';
import { loadSynthesisMethods } from '../../src/plugins/synthesis/registry';
import { loadTrainers } from '../../src/plugins/trainers/registry';
import { loadStrategies } from '../../src/strategies/registry';
import { BUILTIN_CODE } from '../fixtures/plugin-kinds/duplicate';
import type { ExportName } from '../fixtures/plugin-kinds/kinds';
import { lifecycleLog } from '../fixtures/plugin-kinds/lifecycle-log';

const fixture = (dir: string, name: string) =>
  path.resolve(__dirname, '../fixtures', dir, `${name}.js`);
/** A fixture that exports the same flaw for every kind (see `fixtures/plugin-kinds/kinds.ts`). */
const shared = (name: string) => fixture('plugin-kinds', name);

const ctx = (): PluginContext => ({ config: loadConfig({}), logger });

function startupError(load: () => unknown): PluginRegistrationError {
  try {
    load();
  } catch (e) {
    expect(e).toBeInstanceOf(PluginRegistrationError);
    return e as PluginRegistrationError;
  }
  throw new Error('the registry loaded');
}

function badInput(run: () => unknown): BadUserInputError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(BadUserInputError);
    return e as BadUserInputError;
  }
  throw new Error('no error was thrown');
}

/** One plugin kind, and the fixtures and messages its registry is checked with. */
interface KindCase {
  name: string;
  load(modules?: string[]): PluginRegistry<PluginLifecycle>;
  exportName: ExportName;
  noun: string;
  optionsName: 'params' | 'options';
  /** A part of the built-ins' module path. */
  builtinDir: string;
  /** How an unknown-code message lists the known codes. */
  known: string;
  duplicate: string;
  noExport: { module: string; exports: string };
  badDefaults: { module: string; says: string[] };
  failingCheck: { module: string; says: string };
}

const KINDS: KindCase[] = [
  {
    name: 'strategies',
    load: loadStrategies,
    exportName: 'strategies',
    noun: 'strategy',
    optionsName: 'params',
    builtinDir: path.join('strategies', 'builtin'),
    known: 'Known strategies:',
    duplicate: fixture('plugins', 'duplicate-margin'),
    noExport: { module: fixture('plugins', 'no-export'), exports: 'strategy' },
    badDefaults: {
      module: shared('bad-defaults'),
      says: ['"needs-an-option"', "must have required property 'depth'"],
    },
    failingCheck: {
      module: shared('failing-check'),
      says: 'its default params fail its checkParams: params.depth must be set',
    },
  },
  {
    name: 'trainers',
    load: loadTrainers,
    exportName: 'trainers',
    noun: 'trainer',
    optionsName: 'options',
    builtinDir: path.join('trainers', 'builtin'),
    known: 'Known trainers:',
    duplicate: fixture('trainers', 'duplicate-softmax'),
    noExport: { module: fixture('trainers', 'no-export'), exports: 'trainer' },
    badDefaults: {
      module: fixture('trainers', 'bad-defaults'),
      says: ['"needs-an-option"', "must have required property 'depth'"],
    },
    failingCheck: {
      module: shared('failing-check'),
      says: 'its default options fail its checkOptions: options.depth must be set',
    },
  },
  {
    name: 'stream policies',
    load: loadStreamPolicies,
    exportName: 'policies',
    noun: 'stream policy',
    optionsName: 'params',
    builtinDir: path.join('stream-policies', 'builtin', 'index.js'),
    known: 'Known:',
    duplicate: fixture('stream-plugins', 'duplicate-fixed'),
    noExport: { module: fixture('stream-plugins', 'no-export'), exports: 'strategies' },
    badDefaults: {
      module: shared('bad-defaults'),
      says: ['"needs-an-option"', "must have required property 'depth'"],
    },
    failingCheck: {
      module: fixture('stream-plugins', 'bad-defaults'),
      says: 'its default params fail its checkParams: params.threshold is never good enough',
    },
  },
  {
    name: 'synthesis methods',
    load: loadSynthesisMethods,
    exportName: 'methods',
    noun: 'synthesis method',
    optionsName: 'params',
    builtinDir: path.join('synthesis', 'builtin'),
    known: 'Known:',
    duplicate: fixture('synthesis-plugins', 'duplicate-smote'),
    noExport: { module: shared('no-export'), exports: 'plugins' },
    badDefaults: {
      module: shared('bad-defaults'),
      says: ['"needs-an-option"', "must have required property 'depth'"],
    },
    failingCheck: {
      module: shared('failing-check'),
      says: 'its default params fail its checkParams: params.depth must be set',
    },
  },
];

describe.each(KINDS)('the registry of $name', (k) => {
  beforeEach(() => {
    lifecycleLog.length = 0;
  });

  it('registers the built-ins and then each plugin module, remembering where each came from', () => {
    const registry = k.load([shared('lifecycle')]);
    const codes = registry.list().map((r) => r.plugin.code);
    expect(codes).toEqual([...codes].sort());
    expect(codes).toEqual(expect.arrayContaining([BUILTIN_CODE[k.exportName], 'first', 'second']));
    expect(registry.get('first').modulePath).toBe(shared('lifecycle'));
    expect(registry.get(BUILTIN_CODE[k.exportName]).modulePath).toContain(k.builtinDir);
  });

  it('stops start-up on a duplicate code, naming both modules', () => {
    for (const module of [k.duplicate, shared('duplicate')]) {
      const e = startupError(() => k.load([module]));
      expect(e.message).toContain(`"${BUILTIN_CODE[k.exportName]}" is registered twice`);
      expect(e.message).toContain(module);
      expect(e.message).toContain(k.builtinDir);
    }
  });

  it('stops start-up on a duplicate code between two plugin modules, naming both', () => {
    const e = startupError(() => k.load([shared('lifecycle'), shared('failing-init')]));
    expect(e.message).toContain('"first" is registered twice');
    expect(e.message).toContain(`by ${shared('lifecycle')} and by ${shared('failing-init')}`);
  });

  it('stops start-up on a module that cannot be loaded', () => {
    const e = startupError(() => k.load(['/nowhere/plugin.js']));
    expect(e.message).toContain('/nowhere/plugin.js could not be loaded');
  });

  it(`stops start-up on a module without the export, naming it and what it exports`, () => {
    const e = startupError(() => k.load([k.noExport.module]));
    expect(e.message).toContain(k.noExport.module);
    expect(e.message).toContain(`must export \`${k.exportName}\``);
    expect(e.message).toContain(`it exports ${k.noExport.exports}`);
  });

  it('stops start-up on an invalid options schema, naming the module and the plugin', () => {
    const e = startupError(() => k.load([shared('bad-schema')]));
    expect(e.message).toContain(shared('bad-schema'));
    expect(e.message).toContain('"bad-schema"');
    expect(e.message).toContain(`${k.optionsName}Schema`);
  });

  it('stops start-up on an options schema whose defaults do not validate', () => {
    const e = startupError(() => k.load([k.badDefaults.module]));
    expect(e.message).toContain(k.badDefaults.module);
    for (const part of k.badDefaults.says) expect(e.message).toContain(part);
  });

  it('stops start-up on a plugin whose defaults fail its own cross-option check', () => {
    const e = startupError(() => k.load([k.failingCheck.module]));
    expect(e.message).toContain(k.failingCheck.module);
    expect(e.message).toContain(k.failingCheck.says);
  });

  it('stops start-up on a lifecycle hook that is not a function', () => {
    const e = startupError(() => k.load([shared('bad-lifecycle')]));
    expect(e.message).toContain(shared('bad-lifecycle'));
    expect(e.message).toContain('destroy, when given, must be a function');
  });

  it('takes no more plugins once loaded', () => {
    const registry = k.load();
    const register = (
      registry as unknown as { registerModule(p: string): void }
    ).registerModule.bind(registry);
    expect(() => register(shared('lifecycle'))).toThrow(/sealed/);
    expect(() => registry.get('first')).toThrow(`Unknown ${k.noun} "first"`);
  });

  it('applies defaults and names each bad option by its path', () => {
    const registry = k.load([shared('sized')]);
    const o = k.optionsName;
    const given = { size: 3 };
    expect(registry.params('sized', given)).toEqual({ size: 3, mode: 'fast' });
    expect(given).toEqual({ size: 3 });
    expect(registry.params('sized', undefined)).toEqual({ size: 1, mode: 'fast' });
    expect(registry.params('sized', null)).toEqual({ size: 1, mode: 'fast' });
    const e = badInput(() => registry.params('sized', { size: 0, mode: 'slow', speed: 2 }));
    expect(e.message).toContain(`Invalid ${o} for ${k.noun} "sized"`);
    expect(e.message).toContain(`${o}.size must be >= 1`);
    expect(e.message).toContain(`${o}.mode must be one of "fast", "careful"`);
    expect(e.message).toContain(
      `${o}.speed is not ${o === 'params' ? 'a parameter' : 'an option'} of this ${k.noun}`,
    );
    expect(e.extensions.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: `${o}.size` })]),
    );
    expect(badInput(() => registry.params('sized', { size: 13 })).message).toContain(
      `${o}.size is unlucky`,
    );
    expect(badInput(() => registry.params('sized', [1])).message).toBe(
      `${o} must be an object; got [1].`,
    );
    expect(badInput(() => registry.get('nope')).message).toMatch(
      new RegExp(`^Unknown ${k.noun} "nope"\\. ${k.known} .*sized`),
    );
  });

  it('runs init in registration order and destroy in reverse', async () => {
    const registry = k.load([shared('lifecycle')]);
    await registry.init(ctx());
    expect(lifecycleLog).toEqual([`${k.exportName}:first init`, `${k.exportName}:second init`]);
    await registry.destroy();
    expect(lifecycleLog.slice(2)).toEqual([
      `${k.exportName}:second destroy`,
      `${k.exportName}:first destroy`,
    ]);
    await registry.destroy();
    expect(lifecycleLog).toHaveLength(4);
  });

  it('stops start-up on a failing init, naming the plugin, after destroying those started', async () => {
    const registry = k.load([shared('failing-init')]);
    const e = await registry.init(ctx()).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(e).toBeInstanceOf(PluginRegistrationError);
    expect((e as Error).message).toContain(`"broken" of ${shared('failing-init')}`);
    expect((e as Error).message).toContain('no licence server');
    expect(lifecycleLog).toEqual([`${k.exportName}:first init`, `${k.exportName}:first destroy`]);
  });
});

describe('loadPlugins', () => {
  const every = (module: string) => ({
    strategyModules: [module],
    trainerModules: [module],
    streamPolicyModules: [module],
    synthesisModules: [module],
  });

  beforeEach(() => {
    lifecycleLog.length = 0;
  });

  it('loads every kind from the configuration', () => {
    const plugins = loadPlugins(every(shared('lifecycle')));
    for (const registry of [
      plugins.strategies,
      plugins.trainers,
      plugins.streamPolicies,
      plugins.synthesisMethods,
    ])
      expect(registry.get('second').modulePath).toBe(shared('lifecycle'));
  });

  it('stops on the first bad module of any kind', () => {
    const e = startupError(() =>
      loadPlugins({ ...every(shared('lifecycle')), synthesisModules: [shared('bad-schema')] }),
    );
    expect(e.message).toContain('synthesis method #0 of');
  });

  it('starts every kind in order and destroys them in reverse', async () => {
    const plugins = loadPlugins(every(shared('lifecycle')));
    await plugins.init(ctx());
    await plugins.destroy();
    const kinds = ['strategies', 'trainers', 'policies', 'methods'];
    const inits = kinds.flatMap((k) => [`${k}:first init`, `${k}:second init`]);
    const destroys = [...kinds]
      .reverse()
      .flatMap((k) => [`${k}:second destroy`, `${k}:first destroy`]);
    expect(lifecycleLog).toEqual([...inits, ...destroys]);
  });

  it('destroys the kinds already started when a later kind fails to start', async () => {
    const plugins = loadPlugins({
      ...every(shared('lifecycle')),
      streamPolicyModules: [shared('failing-init')],
    });
    await expect(plugins.init(ctx())).rejects.toThrow(PluginRegistrationError);
    expect(lifecycleLog).toEqual([
      'strategies:first init',
      'strategies:second init',
      'trainers:first init',
      'trainers:second init',
      'policies:first init',
      'policies:first destroy',
      'trainers:second destroy',
      'trainers:first destroy',
      'strategies:second destroy',
      'strategies:first destroy',
    ]);
  });
});

describe('the strategy registry', () => {
  const plugin = (name: string) => fixture('plugins', name);

  it('registers the built-ins and a plugin module, each under its code', () => {
    const registry = loadStrategies([plugin('prefer-class')]);
    const codes = registry.list().map((r) => r.plugin.code);
    expect(codes).toContain('margin');
    expect(codes).toContain('prefer-class');
    expect(registry.get('prefer-class').modulePath).toBe(plugin('prefer-class'));
  });

  it('stops start-up on a pointwise strategy that needs no model output', () => {
    const e = startupError(() => loadStrategies([plugin('pointwise-no-needs')]));
    expect(e.message).toContain(plugin('pointwise-no-needs'));
    expect(e.message).toContain('needs must name at least one');
  });

  it('applies parameter defaults and names bad parameters', () => {
    const registry = loadStrategies([plugin('prefer-class')]);
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
});

describe('the trainer registry', () => {
  const plugin = (name: string) => fixture('trainers', name);

  it('registers the built-ins and a plugin module, each under its code', () => {
    const registry = loadTrainers([plugin('nearest-centroid')]);
    expect(registry.list().map((r) => r.plugin.code)).toEqual([
      'mlp',
      'nearest-centroid',
      'softmax',
    ]);
    expect(registry.get('nearest-centroid').modulePath).toBe(plugin('nearest-centroid'));
    for (const { plugin: trainer } of registry.list())
      expect(trainer.description.length).toBeGreaterThan(10);
  });

  it('applies the defaults of each built-in without changing the options given', () => {
    const registry = loadTrainers();
    expect(registry.params('softmax')).toEqual({
      Cs: DEFAULT_CS,
      cvFolds: 5,
      cvMaxRows: 2000,
      standardize: 'dataset',
      maxIterations: 1000,
      tolerance: 1e-6,
      seed: 0,
    });
    const given = { hiddenUnits: 8, epochs: 3 };
    expect(registry.params('mlp', given)).toEqual({
      epochs: 3,
      learningRate: 0.003,
      l2: 1e-3,
      batchSize: 64,
      seed: 0,
      hiddenUnits: 8,
      activation: 'relu',
      standardize: 'dataset',
      earlyStopping: true,
      validationFraction: 0.1,
      patience: 100,
    });
    expect(given).toEqual({ hiddenUnits: 8, epochs: 3 });
    expect(registry.params('mlp', null)).toEqual(registry.params('mlp', {}));
  });

  it('refuses an unknown trainer with BAD_USER_INPUT, listing the known ones', () => {
    const registry = loadTrainers();
    expect(() => registry.get('svm')).toThrow(BadUserInputError);
    expect(() => registry.params('svm', {})).toThrow(
      'Unknown trainer "svm". Known trainers: mlp, softmax.',
    );
  });

  it('refuses options that are not an object', () => {
    const registry = loadTrainers();
    expect(() => registry.params('softmax', [1])).toThrow('options must be an object; got [1].');
    expect(() => registry.params('softmax', 'fast')).toThrow(BadUserInputError);
  });

  it('refuses a batch size that is not a whole number of rows', () => {
    const registry = loadTrainers();
    expect(() => registry.params('mlp', { batchSize: -1 })).toThrow(
      'options.batchSize must be >= 0',
    );
    expect(() => registry.params('mlp', { l2: 'a lot' })).toThrow('options.l2 must be number');
    expect(() => registry.params('softmax', { C: 0 })).toThrow('options.C must be > 0');
  });
});
