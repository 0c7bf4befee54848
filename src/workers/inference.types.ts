/**
 * What travels between the server and the inference workers. Plain data only: every field is
 * structured-cloneable, and the typed arrays' buffers are transferred, not copied.
 */
import type { WasmMemory } from '../strategies/kernels/simd-kernel';
import type { TopRows } from '../strategies/selection';
import type { Pick, ScoredRows } from '../strategies/types';

/** A registered model, as a worker needs it. */
export interface ModelRef {
  /**
   * Lower-case hex SHA-256 of the ONNX file: the key under which each worker keeps the loaded
   * session. The worker checks the file against it when it first loads the model.
   */
  sha256: string;
  /** Path of the ONNX file on this machine. Read once per worker. */
  path: string;
  /** The input that takes `[rows, dim]` float32 features. */
  inputName: string;
  /** The output that gives `[rows, classCount]` class scores. */
  outputName: string;
  /** Logits are turned into probabilities with a softmax in the worker. */
  outputKind: 'PROBABILITIES' | 'LOGITS';
  /** The output that gives a `[rows, embeddingDim]` embedding, if the model has one. */
  embeddingOutputName?: string | null;
  /**
   * The model's calibration temperature: probabilities become softmax(log p / temperature) in
   * the worker, before anything reads them. Default 1 (as given).
   */
  temperature?: number;
}

/** A strategy by the module that exports it and its code. */
export interface StrategyRef {
  /**
   * Absolute path of a JavaScript module exporting `strategies: Strategy[]`. Each worker
   * `require()`s it once and keeps it.
   */
  modulePath: string;
  /** The strategy's `code` in that module. */
  code: string;
  /** Parameters, already validated against the strategy's schema with defaults applied. */
  params: Record<string, unknown>;
}

/** Runs one or more models over a block of feature rows. */
export interface ScoreTask {
  /** One model, or a committee; the first model's prediction is the one stored. */
  models: ModelRef[];
  /** Row-major `rows x dim`. Its buffer is transferred to the worker: detached after the call. */
  features: Float32Array;
  rows: number;
  dim: number;
  /** Run and return the first model's embedding output (it must have one). */
  embeddings: boolean;
  /**
   * A pointwise strategy to score every row with inside the worker. With it, the worker returns
   * only its local top `keep` rows rather than every row's outputs.
   */
  pointwise?: StrategyRef & {
    keep: number;
    /**
     * Also return the kept rows' probabilities (one array per model) and, when `embeddings` is
     * set, their embeddings: the candidates a batch strategy then selects from.
     */
    returnOutputs?: boolean;
  };
}

export interface ScoreResult {
  /** Rows the results are for: the task's rows less {@link skipped}. */
  rows: number;
  /**
   * The task's rows (ascending block indices) whose outputs were not finite (NaN or Infinity,
   * from any model or the embedding). They are left out: every other field counts only the rest,
   * in block order, so a caller drops the same rows from its ids.
   */
  skipped?: Int32Array;
  /** Number of classes the models give. */
  classCount: number;
  /** The first model's most probable class for every row (ties: the lower class). */
  predictedClass: Int16Array;
  /** The first model's probability of `predictedClass`, for every row. */
  confidence: Float32Array;
  /**
   * With `pointwise`: the local top rows by score (row indices into the task's block), highest
   * first (ties: the lower row first), at most `keep` of them.
   */
  top?: TopRows;
  /** Without `pointwise`: every row's outputs. */
  all?: {
    /** One row-major `rows x classCount` array per model. */
    probabilities: Float32Array[];
    /** With `embeddings`: row-major `rows x embeddingDim`. */
    embeddings?: Float32Array;
    embeddingDim?: number;
  };
}

/** Runs a batch strategy's `select` in a worker. */
export interface SelectTask {
  strategy: StrategyRef;
  /** How many rows to select. */
  size: number;
  /** Seed of the generator the strategy gets as `random` (an unsigned 32-bit integer). */
  seed: number;
  /** The candidates. Their buffers are transferred to the worker: detached after the call. */
  pool: ScoredRows;
  /** The labelled items' embeddings, for strategies that need them. Transferred too. */
  labelled?: { rows: number; embeddings: Float32Array };
  /**
   * Set by `InferencePool.select`: the shared memory of the selection team that the pool's other
   * threads join (see {@link HelpTask}).
   */
  teamMemory?: WasmMemory;
}

/** Sent with a `SelectTask` to the pool's other threads: join the team in `teamMemory`. */
export interface HelpTask {
  teamMemory: WasmMemory;
}

export type { Pick, ScoredRows };

/** Settings each worker receives once, as piscina's `workerData`. */
export interface WorkerSettings {
  /** Most rows one `session.run` gets. */
  batchRows: number;
  /** Sessions one worker keeps; beyond it the least recently used is released. */
  maxSessionsPerWorker: number;
}

/** Sent once to every worker by `InferencePool.destroy`; see `release` in inference.worker.ts. */
export interface ReleaseTask {
  /** Int32 counter shared by the release tasks, so that each lands on a different worker. */
  barrier: SharedArrayBuffer;
  workers: number;
  /** How long one release task waits for the others before releasing anyway. */
  waitMs: number;
}
