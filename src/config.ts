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
  logLevel: string;
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
  logLevel: 'info',
};

function intFromEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Builds the configuration from environment variables over {@link DEFAULT_CONFIG}. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<QuarryConfig> = {},
): QuarryConfig {
  const fromEnv: Partial<QuarryConfig> = defined({
    port: intFromEnv(env, 'PORT'),
    host: env.HOST || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.QUARRY_DATA_DIR ? path.resolve(env.QUARRY_DATA_DIR) : undefined,
    maxModelBytes: intFromEnv(env, 'QUARRY_MAX_MODEL_BYTES'),
    maxRequestBytes: intFromEnv(env, 'QUARRY_MAX_REQUEST_BYTES'),
    modelCheckTimeoutMs: intFromEnv(env, 'QUARRY_MODEL_CHECK_TIMEOUT_MS'),
    modelCheckMaxRssBytes: intFromEnv(env, 'QUARRY_MODEL_CHECK_MAX_RSS_BYTES'),
    poolSize: intFromEnv(env, 'QUARRY_DB_POOL_SIZE'),
    logLevel: env.LOG_LEVEL || undefined,
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
