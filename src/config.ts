import os from 'node:os';
import path from 'node:path';
import { ApiKeyRole } from './entities/enums';

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
  /**
   * Shards a round's pool is split into (id ranges scored as jobs by any process sharing the
   * database, then merged). 1, the default: the whole round runs in one process.
   */
  roundShards: number;
  /** Fewest pool items per shard: a smaller pool gets fewer shards (down to 1). */
  roundShardMinRows: number;
  /** How often an idle process asks the job queue for work. */
  jobPollingSeconds: number;
  /** Memory a batch strategy may hold for the rows it selects from (whole-pool k-center etc.). */
  maxSelectionBytes: number;
  /** Where validated models are written for the inference workers to load. */
  modelCacheDir: string;
  /** Origins allowed by CORS (QUARRY_CORS_ORIGINS, comma-separated); `['*']`: any. */
  corsOrigins: string[];
  /** Whether introspection queries are answered (QUARRY_INTROSPECTION; default: unless NODE_ENV=production). */
  introspection: boolean;
  /** Whether automatic persisted queries are accepted (QUARRY_APQ). */
  apq: boolean;
  /** Roles whose keys may send only the documents of {@link persistedDocumentsFile}. */
  persistedDocumentsOnlyRoles: string[];
  /** The sha256 manifest of allowed documents (default: the one `@quarry/client` ships). */
  persistedDocumentsFile?: string;
  /** Bearer token that may read /metrics (an ADMIN key may too); unset: ADMIN keys only. */
  metricsToken?: string;
  /** Serves /metrics on this port too, without authentication (bind it to a private host). */
  metricsPort?: number;
  /** Host of {@link metricsPort}. */
  metricsHost: string;
  /** Requests slower than this are logged at warn. */
  slowRequestMs: number;
  /** Attempts of one webhook delivery before it is marked FAILED. */
  webhookMaxAttempts: number;
  /** Time one webhook delivery attempt may take. */
  webhookTimeoutMs: number;
  /** How often each open subscription's key is checked for revocation (besides the revocation event). */
  subscriptionKeyCheckMs: number;
  /**
   * Where rounds keep each dataset's POOL feature vectors between rounds (files checked against
   * the database every round); `null` (QUARRY_FEATURE_CACHE_DIR=off) reads them from the
   * database every round.
   */
  featureCacheDir: string | null;
  /** The web app's built files, served at `/` (QUARRY_WEB_DIR; `off` serves none). */
  webDir: string | null;
  /** Limits on operations and on callers at the edge (src/http/limits.ts, rate-limit.ts). */
  edge: EdgeLimits;
}

/** Per-role values: one number for each API key role. */
export type PerRole = Record<ApiKeyRole, number>;

/**
 * What one request may ask for and how often a key may ask. 0 turns a limit off. Refusals:
 * QUERY_TOO_COMPLEX (400), RATE_LIMITED (429 + Retry-After), PAYLOAD_TOO_LARGE (413).
 */
export interface EdgeLimits {
  /** Deepest nesting of fields in one operation (introspection excepted). */
  maxQueryDepth: number;
  /** Aliased fields in one operation. */
  maxQueryAliases: number;
  /** Tokens of one GraphQL document (the lexer stops at this many: nothing more is parsed). */
  maxQueryTokens: number;
  /** Computed cost of one operation: 1 per object field, times `first` (or size) for lists. */
  maxQueryCost: number;
  /** Elements assumed for a list field that takes no `first` (e.g. `models`, `Item.labels`). */
  unpaginatedListSize: number;
  /** Requests per second one key may send, by its role. */
  requestsPerSecond: PerRole;
  /** Query cost per second one key may spend, by its role. */
  costPerSecond: PerRole;
  /** Failed authentications one address may make per minute before it gets 429s. */
  authFailuresPerMinute: number;
  /**
   * On PostgreSQL, 0 (the default): every request's rate is charged in the shared table (exact
   * across processes, one or two statements a request); above 0, charged in memory and shared
   * every this many ms in one statement (a key spread over P processes may pass up to P times
   * its rate within that interval).
   */
  rateLimitSyncMs: number;
  /** Largest request body per role (never above maxRequestBytes). */
  maxRequestBytesByRole: PerRole;
  /**
   * After SIGTERM, how long the server keeps answering new requests with 503 + Retry-After
   * (while requests under way finish) before it closes its port.
   */
  shutdownDrainMs: number;
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
  roundShards: 1,
  roundShardMinRows: 10_000,
  jobPollingSeconds: 2,
  maxSelectionBytes: 1024 * 1024 * 1024,
  modelCacheDir: path.join(os.tmpdir(), 'quarry-model-cache'),
  edge: {
    maxQueryDepth: 12,
    maxQueryAliases: 30,
    maxQueryTokens: 5_000,
    maxQueryCost: 20_000,
    unpaginatedListSize: 50,
    requestsPerSecond: { ADMIN: 500, SERVICE: 500, ANNOTATOR: 100 },
    costPerSecond: { ADMIN: 500_000, SERVICE: 500_000, ANNOTATOR: 100_000 },
    authFailuresPerMinute: 30,
    rateLimitSyncMs: 0,
    maxRequestBytesByRole: {
      ADMIN: 128 * 1024 * 1024,
      SERVICE: 128 * 1024 * 1024,
      ANNOTATOR: 1024 * 1024,
    },
    shutdownDrainMs: 3_000,
  },
  corsOrigins: ['*'],
  introspection: true,
  apq: true,
  persistedDocumentsOnlyRoles: [],
  persistedDocumentsFile: undefined,
  metricsToken: undefined,
  metricsPort: undefined,
  metricsHost: '127.0.0.1',
  slowRequestMs: 1000,
  webhookMaxAttempts: 5,
  webhookTimeoutMs: 10_000,
  subscriptionKeyCheckMs: 5000,
  featureCacheDir: path.join(os.tmpdir(), 'quarry-feature-cache'),
  // dist/src/config.js -> the repository's packages/web/dist (Vite's output).
  webDir: path.resolve(__dirname, '..', '..', 'packages', 'web', 'dist'),
};

/** `true`/`false` (also 1/0, on/off, yes/no) in variable `name`; unset or blank: undefined. */
function boolFromEnv(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return undefined;
  if (['true', '1', 'on', 'yes'].includes(raw)) return true;
  if (['false', '0', 'off', 'no'].includes(raw)) return false;
  throw new Error(`${name} must be true or false, got ${JSON.stringify(env[name])}`);
}

/** A comma-separated list in variable `name`, trimmed; unset or blank: undefined. */
function listFromEnv(env: NodeJS.ProcessEnv, name: string): string[] | undefined {
  const value = env[name]?.trim();
  return value
    ? value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '')
    : undefined;
}

/**
 * Per-role numbers from variable `name`: one integer for every role (`100`), or `ROLE=n` pairs
 * (`ANNOTATOR=20,SERVICE=200`) over `base`. Unset or blank: undefined.
 */
function perRoleFromEnv(env: NodeJS.ProcessEnv, name: string, base: PerRole): PerRole | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const roles = Object.values(ApiKeyRole);
  const bad = () =>
    new Error(
      `${name} must be an integer of 0 or more, or ROLE=n pairs (roles: ${roles.join(', ')}), got ${JSON.stringify(raw)}`,
    );
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (!Number.isSafeInteger(n)) throw bad();
    return Object.fromEntries(roles.map((r) => [r, n])) as PerRole;
  }
  const out: PerRole = { ...base };
  for (const part of raw.split(',')) {
    const m = /^\s*([A-Z]+)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m || !roles.includes(m[1] as ApiKeyRole) || !Number.isSafeInteger(Number(m[2])))
      throw bad();
    out[m[1] as ApiKeyRole] = Number(m[2]);
  }
  return out;
}

/** The edge limits from the environment over `base` (QUARRY_MAX_QUERY_*, QUARRY_RATE_LIMIT_*, ...). */
function edgeFromEnv(env: NodeJS.ProcessEnv, base: EdgeLimits): EdgeLimits {
  return {
    ...base,
    ...defined({
      maxQueryDepth: intFromEnv(env, 'QUARRY_MAX_QUERY_DEPTH', 0),
      maxQueryAliases: intFromEnv(env, 'QUARRY_MAX_QUERY_ALIASES', 0),
      maxQueryTokens: intFromEnv(env, 'QUARRY_MAX_QUERY_TOKENS', 0),
      maxQueryCost: intFromEnv(env, 'QUARRY_MAX_QUERY_COST', 0),
      unpaginatedListSize: intFromEnv(env, 'QUARRY_UNPAGINATED_LIST_SIZE', 1),
      requestsPerSecond: perRoleFromEnv(
        env,
        'QUARRY_RATE_LIMIT_REQUESTS_PER_SECOND',
        base.requestsPerSecond,
      ),
      costPerSecond: perRoleFromEnv(env, 'QUARRY_RATE_LIMIT_COST_PER_SECOND', base.costPerSecond),
      authFailuresPerMinute: intFromEnv(env, 'QUARRY_AUTH_FAILURES_PER_MINUTE', 0),
      rateLimitSyncMs: intFromEnv(env, 'QUARRY_RATE_LIMIT_SYNC_MS', 0),
      maxRequestBytesByRole: perRoleFromEnv(
        env,
        'QUARRY_MAX_REQUEST_BYTES_BY_ROLE',
        base.maxRequestBytesByRole,
      ),
      shutdownDrainMs: intFromEnv(env, 'QUARRY_SHUTDOWN_DRAIN_MS', 0),
    }),
  };
}

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

/** `off` turns the feature cache off (null); a directory is made absolute; unset: the default. */
function featureCacheDirFromEnv(raw: string | undefined): string | null | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  return value === 'off' ? null : path.resolve(value);
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
    roundShards: intFromEnv(env, 'QUARRY_ROUND_SHARDS', 1, 256),
    roundShardMinRows: intFromEnv(env, 'QUARRY_ROUND_SHARD_MIN_ROWS', 1),
    jobPollingSeconds: intFromEnv(env, 'QUARRY_JOB_POLLING_SECONDS', 1),
    maxSelectionBytes: intFromEnv(env, 'QUARRY_MAX_SELECTION_BYTES', 1),
    modelCacheDir: env.QUARRY_MODEL_CACHE_DIR?.trim()
      ? path.resolve(env.QUARRY_MODEL_CACHE_DIR)
      : undefined,
    corsOrigins: listFromEnv(env, 'QUARRY_CORS_ORIGINS'),
    // Unset: on, except under NODE_ENV=production (Apollo's own default).
    introspection:
      boolFromEnv(env, 'QUARRY_INTROSPECTION') ??
      (env.NODE_ENV === 'production' ? false : undefined),
    apq: boolFromEnv(env, 'QUARRY_APQ'),
    persistedDocumentsOnlyRoles: listFromEnv(env, 'QUARRY_PERSISTED_DOCUMENTS_ONLY_ROLES')?.map(
      (r) => r.toUpperCase(),
    ),
    persistedDocumentsFile: env.QUARRY_PERSISTED_DOCUMENTS_FILE?.trim()
      ? path.resolve(env.QUARRY_PERSISTED_DOCUMENTS_FILE)
      : undefined,
    metricsToken: env.QUARRY_METRICS_TOKEN?.trim() || undefined,
    metricsPort: intFromEnv(env, 'QUARRY_METRICS_PORT', 0, 65_535),
    metricsHost: env.QUARRY_METRICS_HOST?.trim() || undefined,
    slowRequestMs: intFromEnv(env, 'QUARRY_SLOW_REQUEST_MS', 0),
    webhookMaxAttempts: intFromEnv(env, 'QUARRY_WEBHOOK_MAX_ATTEMPTS', 1, 100),
    webhookTimeoutMs: intFromEnv(env, 'QUARRY_WEBHOOK_TIMEOUT_MS', 1),
    subscriptionKeyCheckMs: intFromEnv(env, 'QUARRY_SUBSCRIPTION_KEY_CHECK_MS', 100),
    featureCacheDir: featureCacheDirFromEnv(env.QUARRY_FEATURE_CACHE_DIR),
    webDir:
      env.QUARRY_WEB_DIR?.trim() === 'off'
        ? null
        : env.QUARRY_WEB_DIR?.trim()
          ? path.resolve(env.QUARRY_WEB_DIR)
          : undefined,
  });
  const config = { ...DEFAULT_CONFIG, ...fromEnv, ...defined(overrides) };
  config.edge = { ...edgeFromEnv(env, DEFAULT_CONFIG.edge), ...overrides.edge };
  if (config.databaseUrl && !/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
    throw new Error('DATABASE_URL must start with postgres:// or postgresql://');
  }
  if (config.maxRequestBytes < Math.ceil((config.maxModelBytes * 4) / 3)) {
    throw new Error(
      'QUARRY_MAX_REQUEST_BYTES must fit a base64-encoded model of QUARRY_MAX_MODEL_BYTES (4/3 of it)',
    );
  }
  const roles = ['ADMIN', 'SERVICE', 'ANNOTATOR'];
  const badRole = config.persistedDocumentsOnlyRoles.find((r) => !roles.includes(r));
  if (badRole) {
    throw new Error(
      `QUARRY_PERSISTED_DOCUMENTS_ONLY_ROLES must list roles of ${roles.join(', ')}; got ${JSON.stringify(badRole)}`,
    );
  }
  return config;
}
