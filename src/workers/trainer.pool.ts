import * as path from 'node:path';
import { checkTrainInput } from '../plugins/trainers/data';
import { BUILTIN_TRAINERS_MODULE, type TrainerRegistry } from '../plugins/trainers/registry';
import { withDefaults, WorkerPool } from './worker-pool';
import {
  trainArrays,
  type TrainerWorkerSettings,
  type TrainRequest,
  type TrainResult,
} from './trainer.worker';

export type { TrainFacts, TrainRequest, TrainResult } from './trainer.worker';

/** The compiled worker module, for a piscina of one's own. */
export const TRAINER_WORKER_FILE = path.join(__dirname, 'trainer.worker.js');

/** Options of {@link TrainerPool}. */
export interface TrainerPoolOptions {
  /**
   * Worker threads; each trains one job at a time on one core. Default 1: training shares the
   * machine with the inference pool, which already has a thread per core.
   */
  threads?: number;
  /**
   * Jobs that may wait for a busy pool; one more is refused with `ServiceOverloadedError`
   * (`SERVICE_OVERLOADED`). Default 8.
   */
  maxQueue?: number;
}

const DEFAULTS = { threads: 1, maxQueue: 8 };

/**
 * Training in worker threads (a {@link WorkerPool}). Requests are validated in the calling thread
 * first, so bad options and unusable data are refused before anything is sent; the buffers of a
 * request that passes are transferred (`features`, an `Int32Array` of labels and
 * `predict.features` are detached afterwards).
 *
 * @example
 * ```ts
 * const pool = new TrainerPool(loadTrainers());
 * const { onnx, facts } = await pool.train({ trainer: 'softmax', features, labels, rows, dim, classCount });
 * await pool.destroy();
 * ```
 */
export class TrainerPool {
  readonly threads: number;
  readonly #registry: TrainerRegistry;
  readonly #pool: WorkerPool;

  /**
   * @param registry the server's trainers; its plugin modules are loaded in the workers too
   * @throws RangeError naming the offending option
   */
  constructor(registry: TrainerRegistry, options: TrainerPoolOptions = {}) {
    const resolved = withDefaults(DEFAULTS, options);
    this.#registry = registry;
    const workerData: TrainerWorkerSettings = {
      pluginModules: [
        ...new Set(
          registry
            .list()
            .map((r) => r.modulePath)
            .filter((m) => m !== BUILTIN_TRAINERS_MODULE),
        ),
      ],
    };
    this.#pool = new WorkerPool({
      filename: TRAINER_WORKER_FILE,
      threads: resolved.threads,
      maxQueue: resolved.maxQueue,
      workerData,
      names: { pool: 'trainer pool', workers: 'trainers', tasks: 'jobs' },
    });
    this.threads = this.#pool.threads;
  }

  /** Jobs waiting for a free worker. */
  get queueSize(): number {
    return this.#pool.queueSize;
  }

  /**
   * Trains in a worker; see {@link TrainRequest} and {@link TrainResult}.
   *
   * @throws BadUserInputError for an unknown trainer, bad options or unusable data (nothing
   *   was sent)
   * @throws ServiceOverloadedError when the queue is full (nothing was sent)
   */
  async train(request: TrainRequest): Promise<TrainResult> {
    this.#registry.params(request.trainer, request.options);
    checkTrainInput(request);
    if (request.predict && request.predict.features.length !== request.predict.rows * request.dim) {
      throw new RangeError(
        `predict.features has ${request.predict.features.length} values, expected predict.rows x dim = ${request.predict.rows * request.dim}`,
      );
    }
    return this.#pool.run<TrainResult>('trainInWorker', request, trainArrays(request));
  }

  /** Waits for the jobs already accepted, then stops the threads. Idempotent. */
  destroy(): Promise<void> {
    return this.#pool.destroy();
  }
}
