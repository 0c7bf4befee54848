import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { types } from 'node:util';
import { createSharedMemory } from '../strategies/kernels/simd-kernel';
import { finishTeam } from '../strategies/kernels/team';
import { requireInteger, requireString, withDefaults, WorkerPool } from './worker-pool';
import type {
  HelpTask,
  ModelRef,
  Pick,
  ReleaseTask,
  ScoreResult,
  ScoreTask,
  SelectTask,
  WorkerSettings,
} from './inference.types';

export type {
  ModelRef,
  Pick,
  ScoredRows,
  ScoreResult,
  ScoreTask,
  SelectTask,
  StrategyRef,
} from './inference.types';

/** Options of {@link InferencePool}. */
export interface InferencePoolOptions {
  /**
   * Worker threads, each running onnxruntime with one intra-op thread. Default:
   * `os.availableParallelism()`, so threads in total = cores.
   */
  threads?: number;
  /**
   * Tasks that may wait for a busy pool; one more is refused with
   * `ServiceOverloadedError` (`SERVICE_OVERLOADED`). `0`: none wait. Default: 4 per thread.
   */
  maxQueue?: number;
  /** Most rows one `session.run` gets (each run costs about 30 µs on top of the work). Default 1024. */
  batchRows?: number;
  /** Sessions each worker keeps; beyond it the least recently used is released. Default 16. */
  maxSessionsPerWorker?: number;
}

const DEFAULTS = { batchRows: 1024, maxSessionsPerWorker: 16 };
const MAX_QUEUE_PER_THREAD = 4;
const WORKER_FILE = path.join(__dirname, 'inference.worker.js');
/** How long destroy() lets one worker's release task wait for the others'. */
const RELEASE_WAIT_MS = 2000;
const OUTPUT_KINDS = new Set(['PROBABILITIES', 'LOGITS']);

/**
 * ONNX inference and strategy selection in a pool of worker threads (a {@link WorkerPool}), so no
 * model ever runs on the server's event loop. Each worker loads a model once and keeps the
 * session, keyed by the model's SHA-256. Typed arrays travel in both directions as transferred
 * buffers: after `score(task)` the caller's `task.features` is detached (unless the call was
 * refused with `ServiceOverloadedError` (`SERVICE_OVERLOADED`), in which case nothing was sent).
 *
 * @example
 * ```ts
 * const pool = new InferencePool({ threads: 2 });
 * const result = await pool.score({ models: [model], features, rows, dim, embeddings: false });
 * await pool.destroy();
 * ```
 */
export class InferencePool {
  readonly threads: number;
  readonly maxQueue: number;
  readonly #pool: WorkerPool;

  /** @throws RangeError naming the offending option */
  constructor(options: InferencePoolOptions = {}) {
    const threads = options.threads ?? availableParallelism();
    const resolved = withDefaults(
      { ...DEFAULTS, threads, maxQueue: threads * MAX_QUEUE_PER_THREAD },
      options,
    );
    requireInteger('options.batchRows', resolved.batchRows, 1);
    requireInteger('options.maxSessionsPerWorker', resolved.maxSessionsPerWorker, 1);
    const workerData: WorkerSettings = {
      batchRows: resolved.batchRows,
      maxSessionsPerWorker: resolved.maxSessionsPerWorker,
    };
    this.#pool = new WorkerPool({
      filename: WORKER_FILE,
      threads: resolved.threads,
      maxQueue: resolved.maxQueue,
      // A fixed set of threads: a worker that went idle and exited would lose its sessions.
      keepThreads: true,
      workerData,
      names: { pool: 'inference pool', workers: 'inference workers', tasks: 'tasks' },
      farewell: {
        name: 'release',
        task: (): ReleaseTask => ({
          barrier: new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT),
          workers: resolved.threads,
          waitMs: RELEASE_WAIT_MS,
        }),
      },
    });
    this.threads = this.#pool.threads;
    this.maxQueue = this.#pool.maxQueue;
  }

  /** Tasks waiting for a free worker. */
  get queueSize(): number {
    return this.#pool.queueSize;
  }

  /** Tasks running in a worker now. */
  get running(): number {
    return this.#pool.running;
  }

  /** Share of the pool's capacity used since it started, 0 to 1. */
  get utilization(): number {
    return this.#pool.utilization;
  }

  /**
   * Runs the task's model(s) over its rows; see {@link ScoreTask} and {@link ScoreResult}. Rows
   * whose outputs are not finite are left out of the result and listed in `skipped`, never an
   * error.
   *
   * @throws ServiceOverloadedError when the queue is full (nothing was sent; retry later)
   * @throws RangeError when the task is malformed (a caller bug)
   * @throws Error with a readable message when a model cannot be loaded or fails to run, or the
   *   pointwise strategy fails; the pool stays usable
   */
  async score(task: ScoreTask): Promise<ScoreResult> {
    validateScoreTask(task);
    return this.#pool.run<ScoreResult>('score', task, [task.features]);
  }

  /**
   * Runs a batch strategy's `select` over the candidates in a worker, with a generator seeded by
   * `task.seed`; returns `min(size, pool.rows)` distinct picks in rank order. Works for strategies
   * that need no model too (`pool.probabilities` empty).
   *
   * @throws ServiceOverloadedError when the queue is full
   * @throws Error when the strategy fails or returns malformed picks
   */
  async select(task: SelectTask): Promise<Pick[]> {
    validateSelectTask(task);
    const arrays = [...task.pool.probabilities, task.pool.embeddings, task.labelled?.embeddings];
    if (this.threads === 1) return this.#pool.run<Pick[]>('select', task, arrays);
    // The other threads join the strategy's team (k-center, BADGE, cluster-margin) over one
    // shared memory. A helper that starts late joins what is left, one that starts after the
    // selection returns at once; the worker releases them when the strategy does not use a team.
    const teamMemory = createSharedMemory();
    const selecting = this.#pool.run<Pick[]>('select', { ...task, teamMemory }, arrays);
    const help: HelpTask = { teamMemory };
    for (let i = 1; i < this.threads; i++) {
      // A helper refused by a full queue, or failing, only leaves the team smaller.
      this.#pool.run<number>('help', help).catch(() => 0);
    }
    try {
      return await selecting;
    } finally {
      finishTeam(teamMemory);
    }
  }

  /**
   * Waits for the tasks already accepted, releases every worker's sessions and stops the
   * threads. Idempotent; tasks submitted afterwards are refused.
   */
  destroy(): Promise<void> {
    return this.#pool.destroy();
  }
}

function validateScoreTask(task: ScoreTask): void {
  if (!Array.isArray(task.models) || task.models.length === 0) {
    throw new RangeError('task.models must name at least one model');
  }
  task.models.forEach((model, i) => validateModel(model, `task.models[${i}]`));
  requireInteger('task.rows', task.rows, 1);
  requireInteger('task.dim', task.dim, 1);
  if (!types.isFloat32Array(task.features)) {
    throw new RangeError('task.features must be a Float32Array');
  }
  if (task.features.length !== task.rows * task.dim) {
    throw new RangeError(
      `task.features has ${task.features.length} values, expected rows x dim = ${task.rows * task.dim}` +
        (task.features.length === 0 ? ' (was its buffer already transferred?)' : ''),
    );
  }
  if (task.embeddings && !task.models[0].embeddingOutputName) {
    throw new RangeError('task.embeddings is set, but task.models[0] has no embeddingOutputName');
  }
  if (task.pointwise) {
    requireString('task.pointwise.modulePath', task.pointwise.modulePath);
    requireString('task.pointwise.code', task.pointwise.code);
    requireInteger('task.pointwise.keep', task.pointwise.keep, 1);
  }
}

function validateModel(model: ModelRef, at: string): void {
  if (typeof model.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(model.sha256)) {
    throw new RangeError(`${at}.sha256 must be 64 hexadecimal digits`);
  }
  requireString(`${at}.path`, model.path);
  requireString(`${at}.inputName`, model.inputName);
  requireString(`${at}.outputName`, model.outputName);
  if (!OUTPUT_KINDS.has(model.outputKind)) {
    throw new RangeError(`${at}.outputKind must be PROBABILITIES or LOGITS`);
  }
}

function validateSelectTask(task: SelectTask): void {
  requireString('task.strategy.modulePath', task.strategy?.modulePath);
  requireString('task.strategy.code', task.strategy?.code);
  requireInteger('task.size', task.size, 0);
  if (!Number.isInteger(task.seed)) throw new RangeError('task.seed must be an integer');
  requireInteger('task.pool.rows', task.pool?.rows, 0);
}
