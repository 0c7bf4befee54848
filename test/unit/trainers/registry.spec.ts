import path from 'node:path';
import { BadUserInputError } from '../../../src/errors';
import { TrainerRegistrationError, TrainerRegistry } from '../../../src/plugins/trainers/registry';

const plugin = (name: string) => path.resolve(__dirname, '../../fixtures/trainers', `${name}.js`);

function startupError(modules: string[]): TrainerRegistrationError {
  try {
    TrainerRegistry.load(modules);
  } catch (e) {
    expect(e).toBeInstanceOf(TrainerRegistrationError);
    return e as TrainerRegistrationError;
  }
  throw new Error('the registry loaded');
}

describe('the trainer registry', () => {
  it('registers the built-ins and a plugin module, each under its code', () => {
    const registry = TrainerRegistry.load([plugin('nearest-centroid')]);
    expect(registry.list().map((r) => r.trainer.code)).toEqual([
      'mlp',
      'nearest-centroid',
      'softmax',
    ]);
    expect(registry.get('nearest-centroid').modulePath).toBe(plugin('nearest-centroid'));
    for (const { trainer } of registry.list())
      expect(trainer.description.length).toBeGreaterThan(10);
  });

  it('stops start-up on a duplicate code, naming both modules', () => {
    const e = startupError([plugin('duplicate-softmax')]);
    expect(e.message).toContain('"softmax" is registered twice');
    expect(e.message).toContain(plugin('duplicate-softmax'));
    expect(e.message).toContain(path.join('trainers', 'builtin'));
  });

  it('stops start-up on a module without a trainers export, naming it and what it exports', () => {
    const e = startupError([plugin('no-export')]);
    expect(e.message).toContain(plugin('no-export'));
    expect(e.message).toContain('must export `trainers`');
    expect(e.message).toContain('it exports trainer');
  });

  it('stops start-up on an options schema whose defaults do not validate', () => {
    const e = startupError([plugin('bad-defaults')]);
    expect(e.message).toContain('"needs-an-option"');
    expect(e.message).toContain("must have required property 'depth'");
  });

  it('stops start-up on a module that cannot be loaded', () => {
    expect(startupError(['/nowhere/trainers.js']).message).toContain(
      '/nowhere/trainers.js could not be loaded',
    );
  });

  it('applies the defaults of each built-in without changing the options given', () => {
    const registry = TrainerRegistry.load();
    expect(registry.options('softmax')).toEqual({
      learningRate: 0.01,
      l2: 1e-3,
      batchSize: 64,
      seed: 0,
    });
    const given = { hiddenUnits: 8, epochs: 3 };
    expect(registry.options('mlp', given)).toEqual({
      epochs: 3,
      learningRate: 0.003,
      l2: 1e-3,
      batchSize: 64,
      seed: 0,
      hiddenUnits: 8,
      activation: 'relu',
    });
    expect(given).toEqual({ hiddenUnits: 8, epochs: 3 });
    expect(registry.options('mlp', null)).toEqual(registry.options('mlp', {}));
  });

  it('refuses an unknown trainer with BAD_USER_INPUT, listing the known ones', () => {
    const registry = TrainerRegistry.load();
    expect(() => registry.get('svm')).toThrow(BadUserInputError);
    expect(() => registry.options('svm', {})).toThrow(
      'Unknown trainer "svm". Known trainers: mlp, softmax.',
    );
  });

  it('refuses options that are not an object', () => {
    const registry = TrainerRegistry.load();
    expect(() => registry.options('softmax', [1])).toThrow('options must be an object; got [1].');
    expect(() => registry.options('softmax', 'fast')).toThrow(BadUserInputError);
  });

  it('refuses a batch size that is not a whole number of rows', () => {
    const registry = TrainerRegistry.load();
    expect(() => registry.options('softmax', { batchSize: -1 })).toThrow(
      'options.batchSize must be >= 0',
    );
    expect(() => registry.options('softmax', { l2: 'a lot' })).toThrow('options.l2 must be number');
  });
});
