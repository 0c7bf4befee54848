import os from 'node:os';
import path from 'node:path';

/** Everything Quarry can be configured with. Read once at start-up by {@link loadConfig}. */
export interface QuarryConfig {
  /** HTTP port; `0` picks a free one. */
  port: number;
  host: string;
  /** `postgres://...` to run on PostgreSQL; unset runs the embedded PGlite database. */
  databaseUrl?: string;
  /** Where the embedded database keeps its files. */
  dataDir: string;
  /** Largest ONNX model accepted, in bytes. */
  maxModelBytes: number;
  /** Largest HTTP request body accepted, in bytes. */
  maxRequestBytes: number;
  /** Most items one `importItems` call may carry. */
  maxImportItems: number;
  /** Most labels one `labelItems` call may carry. */
  maxLabelItems: number;
  /** Time the child process that validates an uploaded model may take. */
  modelCheckTimeoutMs: number;
  /** Resident memory the model-validation child process may use before it is killed. */
  modelCheckMaxRssBytes: number;
  /** Size of the PostgreSQL connection pool (PGlite is always one connection). */
  poolSize: number;
  /** Strategy plugin modules (QUARRY_STRATEGY_MODULES, comma-separated paths). */
  strategyModules: string[];
  /** Trainer plugin modules (QUARRY_TRAINER_MODULES, comma-separated paths). */
  trainerModules: string[];
  /** Synthesis method plugin modules (QUARRY_SYNTHESIS_MODULES, comma-separated paths). */
  synthesisModules: string[];
  /** Stream selective-sampling policy modules (QUARRY_STREAM_POLICY_MODULES, comma-separated paths). */
  streamPolicyModules: string[];
  /** Inference worker threads (each runs ONNX with one intra-op thread); default: one per core. */
  inferenceThreads: number;
  /** Inference tasks that may wait for a worker before new work is refused (SERVICE_OVERLOADED). */
  inferenceMaxQueue: number;
  /**
   * Training worker threads, each training one job at a time on one core. Default 1: training
   * shares the machine with the inference workers, which already have a thread per core.
   */
  trainerThreads: number;
  /** Training jobs that may wait for a trainer thread before new ones are refused (SERVICE_OVERLOADED). */
  trainerMaxQueue: number;
  /** Pool rows read from the database and scored per chunk. */
  roundChunkRows: number;
  /** A round job not finished this long after it started is taken to have died and is retried. */
  roundJobExpireSeconds: number;
  /** How often an idle process asks the job queue for work. */
  jobPollingSeconds: number;
  /** Memory a batch strategy may hold for the rows it selects from (whole-pool k-center etc.). */
  maxSelectionBytes: number;
  /** Where validated models are written for the inference workers to load. */
  modelCacheDir: string;
  /** The web app's built files, served at `/` (QUARRY_WEB_DIR; `off` serves none). */
  webDir: string | null;
}

export const DEFAULT_CONFIG: QuarryConfig = {
  port: 4000,
  host: '0.0.0.0',
  databaseUrl: undefined,
  dataDir: path.resolve('.quarry', 'data'),
  maxModelBytes: 64 * 1024 * 1024,
  maxRequestBytes: 128 * 1024 * 1024,
  maxImportItems: 10_000,
  maxLabelItems: 10_000,
  modelCheckTimeoutMs: 30_000,
  modelCheckMaxRssBytes: 2 * 1024 * 1024 * 1024,
  poolSize: 10,
  strategyModules: [],
  trainerModules: [],
  synthesisModules: [],
  streamPolicyModules: [],
  inferenceThreads: os.availableParallelism(),
  inferenceMaxQueue: 64,
  trainerThreads: 1,
  trainerMaxQueue: 8,
  roundChunkRows: 50_000,
  roundJobExpireSeconds: 15 * 60,
  jobPollingSeconds: 2,
  maxSelectionBytes: 1024 * 1024 * 1024,
  modelCacheDir: path.join(os.tmpdir(), 'quarry-model-cache'),
  // dist/src/config.js -> the repository's packages/web/dist (Vite's output).
  webDir: path.resolve(__dirname, '..', '..', 'packages', 'web', 'dist'),
};

/**
 * The integer in variable `name`, or undefined when it is unset or blank. Anything else that is
 * not a whole number from `min` to `max` is refused with a message naming the variable.
 */
function intFromEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER
        ? `an integer of ${min} or more`
        : `an integer from ${min} to ${max}`;
    throw new Error(`${name} must be ${range}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** `memory://` (the in-memory database) is kept as it is; a directory is made absolute. */
function dataDirFromEnv(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  return raw.startsWith('memory://') ? raw : path.resolve(raw);
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Plugin module paths from a comma-separated variable, made absolute; unset or blank: none. */
function modulesFromEnv(env: NodeJS.ProcessEnv, name: string): string[] | undefined {
  const value = env[name]?.trim();
  return value ? value.split(',').map((m) => path.resolve(m.trim())) : undefined;
}

/** Builds the configuration from environment variables over {@link DEFAULT_CONFIG}. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<QuarryConfig> = {},
): QuarryConfig {
  const fromEnv: Partial<QuarryConfig> = defined({
    port: intFromEnv(env, 'PORT', 0, 65_535),
    host: env.HOST || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: dataDirFromEnv(env.QUARRY_DATA_DIR),
    maxModelBytes: intFromEnv(env, 'QUARRY_MAX_MODEL_BYTES', 1),
    maxRequestBytes: intFromEnv(env, 'QUARRY_MAX_REQUEST_BYTES', 1),
    modelCheckTimeoutMs: intFromEnv(env, 'QUARRY_MODEL_CHECK_TIMEOUT_MS', 1),
    modelCheckMaxRssBytes: intFromEnv(env, 'QUARRY_MODEL_CHECK_MAX_RSS_BYTES', 1),
    poolSize: intFromEnv(env, 'QUARRY_DB_POOL_SIZE', 1),
    strategyModules: modulesFromEnv(env, 'QUARRY_STRATEGY_MODULES'),
    trainerModules: modulesFromEnv(env, 'QUARRY_TRAINER_MODULES'),
    synthesisModules: modulesFromEnv(env, 'QUARRY_SYNTHESIS_MODULES'),
    streamPolicyModules: modulesFromEnv(env, 'QUARRY_STREAM_POLICY_MODULES'),
    inferenceThreads: intFromEnv(env, 'QUARRY_INFERENCE_THREADS', 1, 256),
    inferenceMaxQueue: intFromEnv(env, 'QUARRY_INFERENCE_MAX_QUEUE', 1),
    trainerThreads: intFromEnv(env, 'QUARRY_TRAINER_THREADS', 1, 256),
    trainerMaxQueue: intFromEnv(env, 'QUARRY_TRAINER_MAX_QUEUE', 0),
    roundChunkRows: intFromEnv(env, 'QUARRY_ROUND_CHUNK_ROWS', 1),
    roundJobExpireSeconds: intFromEnv(env, 'QUARRY_ROUND_JOB_EXPIRE_SECONDS', 1),
    jobPollingSeconds: intFromEnv(env, 'QUARRY_JOB_POLLING_SECONDS', 1),
    maxSelectionBytes: intFromEnv(env, 'QUARRY_MAX_SELECTION_BYTES', 1),
    modelCacheDir: env.QUARRY_MODEL_CACHE_DIR?.trim()
      ? path.resolve(env.QUARRY_MODEL_CACHE_DIR)
      : undefined,
    webDir:
      env.QUARRY_WEB_DIR?.trim() === 'off'
        ? null
        : env.QUARRY_WEB_DIR?.trim()
          ? path.resolve(env.QUARRY_WEB_DIR)
          : undefined,
  });
  const config = { ...DEFAULT_CONFIG, ...fromEnv, ...defined(overrides) };
  if (config.databaseUrl && !/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
    throw new Error('DATABASE_URL must start with postgres:// or postgresql://');
  }
  if (config.maxRequestBytes < Math.ceil((config.maxModelBytes * 4) / 3)) {
    throw new Error(
      'QUARRY_MAX_REQUEST_BYTES must fit a base64-encoded model of QUARRY_MAX_MODEL_BYTES (4/3 of it)',
    );
  }
  return config;
}
