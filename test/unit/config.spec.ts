import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CONFIG, loadConfig } from '../../src/config';

const MIB = 1024 * 1024;

describe('loadConfig', () => {
  it('runs on port 4000 of every interface with the embedded database by default', () => {
    const config = loadConfig({});
    expect(config).toEqual(DEFAULT_CONFIG);
    expect(config).toMatchObject({
      port: 4000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      dataDir: path.resolve('.quarry', 'data'),
      maxModelBytes: 64 * MIB,
      maxRequestBytes: 128 * MIB,
      maxImportItems: 10_000,
      maxLabelItems: 10_000,
      modelCheckTimeoutMs: 30_000,
      poolSize: 10,
    });
  });

  it('reads every setting from its environment variable', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgresql://quarry@db:5432/quarry',
      QUARRY_DATA_DIR: 'var/quarry',
      QUARRY_MAX_MODEL_BYTES: String(MIB),
      QUARRY_MAX_REQUEST_BYTES: String(2 * MIB),
      QUARRY_MODEL_CHECK_TIMEOUT_MS: '5000',
      QUARRY_MODEL_CHECK_MAX_RSS_BYTES: String(512 * MIB),
      QUARRY_DB_POOL_SIZE: '3',
    });
    expect(config).toEqual({
      ...DEFAULT_CONFIG,
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgresql://quarry@db:5432/quarry',
      dataDir: path.resolve('var/quarry'),
      maxModelBytes: MIB,
      maxRequestBytes: 2 * MIB,
      modelCheckTimeoutMs: 5000,
      modelCheckMaxRssBytes: 512 * MIB,
      poolSize: 3,
    });
  });

  it('reads stream policy modules from QUARRY_STREAM_POLICY_MODULES, comma-separated', () => {
    expect(loadConfig({}).streamPolicyModules).toEqual([]);
    expect(
      loadConfig({ QUARRY_STREAM_POLICY_MODULES: 'a/one.js, /abs/two.js' }).streamPolicyModules,
    ).toEqual([path.resolve('a/one.js'), '/abs/two.js']);
  });

  it('gives the worker pools their threads and queues from the environment, defaulting as before', () => {
    expect(loadConfig({})).toMatchObject({
      inferenceThreads: os.availableParallelism(),
      inferenceMaxQueue: 64,
      trainerThreads: 1,
      trainerMaxQueue: 8,
    });
    expect(
      loadConfig({
        QUARRY_INFERENCE_THREADS: '3',
        QUARRY_INFERENCE_MAX_QUEUE: '12',
        QUARRY_TRAINER_THREADS: '2',
        QUARRY_TRAINER_MAX_QUEUE: '0',
      }),
    ).toMatchObject({
      inferenceThreads: 3,
      inferenceMaxQueue: 12,
      trainerThreads: 2,
      trainerMaxQueue: 0,
    });
  });

  it.each([
    [
      'QUARRY_INFERENCE_THREADS',
      '0',
      'QUARRY_INFERENCE_THREADS must be an integer from 1 to 256, got "0"',
    ],
    [
      'QUARRY_TRAINER_THREADS',
      '0',
      'QUARRY_TRAINER_THREADS must be an integer from 1 to 256, got "0"',
    ],
    [
      'QUARRY_TRAINER_THREADS',
      'two',
      'QUARRY_TRAINER_THREADS must be an integer from 1 to 256, got "two"',
    ],
    [
      'QUARRY_TRAINER_MAX_QUEUE',
      '-1',
      'QUARRY_TRAINER_MAX_QUEUE must be an integer of 0 or more, got "-1"',
    ],
  ])('refuses worker option %s=%j, naming the variable', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('keeps QUARRY_DATA_DIR=memory:// as the in-memory database', () => {
    expect(loadConfig({ QUARRY_DATA_DIR: 'memory://' }).dataDir).toBe('memory://');
  });

  it('reads QUARRY_SYNTHESIS_MODULES as comma-separated paths made absolute', () => {
    expect(
      loadConfig({ QUARRY_SYNTHESIS_MODULES: 'plugins/a.js, /opt/b.js' }).synthesisModules,
    ).toEqual([path.resolve('plugins/a.js'), '/opt/b.js']);
    expect(loadConfig({ QUARRY_SYNTHESIS_MODULES: ' ' }).synthesisModules).toEqual([]);
  });

  it('treats empty and blank variables as unset', () => {
    const config = loadConfig({
      PORT: '',
      HOST: '',
      DATABASE_URL: '',
      QUARRY_DB_POOL_SIZE: '  ',
      QUARRY_MAX_MODEL_BYTES: '\t',
    });
    expect(config).toEqual(DEFAULT_CONFIG);
  });

  it('lets overrides from code win over the environment', () => {
    const config = loadConfig({ PORT: '8080', HOST: '127.0.0.1' }, { port: 0, maxImportItems: 5 });
    expect(config).toMatchObject({ port: 0, host: '127.0.0.1', maxImportItems: 5 });
  });

  it('ignores overrides that are undefined', () => {
    expect(loadConfig({ PORT: '8080' }, { port: undefined }).port).toBe(8080);
  });

  it('does not change the defaults it starts from', () => {
    loadConfig({ PORT: '1234' }, { host: 'example' });
    expect(DEFAULT_CONFIG.port).toBe(4000);
    expect(DEFAULT_CONFIG.host).toBe('0.0.0.0');
  });

  it('accepts port 0 (any free port) and 65535', () => {
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
    expect(loadConfig({ PORT: '65535' }).port).toBe(65535);
  });

  it.each([
    ['PORT', 'http', 'PORT must be an integer from 0 to 65535, got "http"'],
    ['PORT', '-1', 'PORT must be an integer from 0 to 65535, got "-1"'],
    ['PORT', '80.5', 'PORT must be an integer from 0 to 65535, got "80.5"'],
    ['PORT', '65536', 'PORT must be an integer from 0 to 65535, got "65536"'],
    [
      'QUARRY_MAX_MODEL_BYTES',
      '64MB',
      'QUARRY_MAX_MODEL_BYTES must be an integer of 1 or more, got "64MB"',
    ],
    [
      'QUARRY_MAX_REQUEST_BYTES',
      '0',
      'QUARRY_MAX_REQUEST_BYTES must be an integer of 1 or more, got "0"',
    ],
    [
      'QUARRY_MODEL_CHECK_TIMEOUT_MS',
      '0',
      'QUARRY_MODEL_CHECK_TIMEOUT_MS must be an integer of 1 or more, got "0"',
    ],
    [
      'QUARRY_MODEL_CHECK_MAX_RSS_BYTES',
      '1e300',
      'QUARRY_MODEL_CHECK_MAX_RSS_BYTES must be an integer of 1 or more, got "1e300"',
    ],
    ['QUARRY_DB_POOL_SIZE', '0', 'QUARRY_DB_POOL_SIZE must be an integer of 1 or more, got "0"'],
    [
      'QUARRY_DB_POOL_SIZE',
      'ten',
      'QUARRY_DB_POOL_SIZE must be an integer of 1 or more, got "ten"',
    ],
  ])('refuses %s=%j, naming the variable', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('refuses a DATABASE_URL that is not PostgreSQL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://db/quarry' })).toThrow(
      'DATABASE_URL must start with postgres:// or postgresql://',
    );
  });

  it('refuses a request limit too small to carry a base64 model of the model limit', () => {
    const fits = { QUARRY_MAX_MODEL_BYTES: '3000', QUARRY_MAX_REQUEST_BYTES: '4000' };
    expect(loadConfig(fits).maxRequestBytes).toBe(4000);
    expect(() => loadConfig({ ...fits, QUARRY_MAX_REQUEST_BYTES: '3999' })).toThrow(
      'QUARRY_MAX_REQUEST_BYTES must fit a base64-encoded model of QUARRY_MAX_MODEL_BYTES',
    );
    expect(() => loadConfig({ QUARRY_MAX_MODEL_BYTES: String(200 * MIB) })).toThrow(
      'QUARRY_MAX_REQUEST_BYTES',
    );
  });
});
