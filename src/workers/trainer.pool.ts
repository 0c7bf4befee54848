import * as path from 'node:path';
import { Piscina } from 'piscina';
import { ErrorCode, QuarryError } from '../errors';
import { checkTrainInput } from '../plugins/trainers/data';
import { BUILTIN_TRAINERS_MODULE, type TrainerRegistry } from '../plugins/trainers/registry';
import {
  trainTransferList,
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
  /** Jobs that may wait for a busy pool; one more is refused with {@link TrainerOverloadedError}. Default 8. */
  maxQueue?: number;
}

const DEFAULTS = { threads: 1, maxQueue: 8 };
/** piscina's messages (errors.ts) when its queue is full, or when there is none and no free worker. */
const PISCINA_OVERLOAD_MESSAGES = new Set([
  'Task queue is at limit',
  'No task queue available and all Workers are busy',
]);

/** The trainer pool's queue is full: the client should retry later. */
export class TrainerOverloadedError extends QuarryError {
  override name = 'TrainerOverloadedError';
  constructor(queued: number) {
    super(
      ErrorCode.SERVICE_OVERLOADED,
      `The trainers are busy (${queued} jobs waiting); try again in a moment.`,
    );
  }
}

/**
 * Training in worker threads (piscina). Requests are validated in the calling thread first, so
 * bad options and unusable data surface as `BadUserInputError` with its code intact; the buffers
 * of a request that passes are transferred (`features`, an `Int32Array` of labels and
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
  readonly #piscina: Piscina;

  /**
   * @param registry the server's trainers; its plugin modules are loaded in the workers too
   * @throws RangeError naming the offending option
   */
  constructor(registry: TrainerRegistry, options: TrainerPoolOptions = {}) {
    const resolved = { ...DEFAULTS, ...withoutUndefined(options) };
    requireInteger('options.threads', resolved.threads, 1);
    requireInteger('options.maxQueue', resolved.maxQueue, 0);
    this.threads = resolved.threads;
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
    this.#piscina = new Piscina({
      filename: TRAINER_WORKER_FILE,
      minThreads: 0,
      maxThreads: resolved.threads,
      maxQueue: resolved.maxQueue,
      concurrentTasksPerWorker: 1,
      workerData,
    });
  }

  /** Jobs waiting for a free worker. */
  get queueSize(): number {
    return this.#piscina.queueSize;
  }

  /**
   * Trains in a worker; see {@link TrainRequest} and {@link TrainResult}.
   *
   * @throws BadUserInputError for an unknown trainer, bad options or unusable data (nothing
   *   was sent)
   * @throws TrainerOverloadedError when the queue is full (nothing was sent)
   */
  async train(request: TrainRequest): Promise<TrainResult> {
    this.#registry.params(request.trainer, request.options);
    checkTrainInput(request);
    if (request.predict && request.predict.features.length !== request.predict.rows * request.dim) {
      throw new RangeError(
        `predict.features has ${request.predict.features.length} values, expected predict.rows x dim = ${request.predict.rows * request.dim}`,
      );
    }
    try {
      return (await this.#piscina.run(request, {
        name: 'trainInWorker',
        transferList: trainTransferList(request),
      })) as TrainResult;
    } catch (error) {
      if (error instanceof Error && PISCINA_OVERLOAD_MESSAGES.has(error.message)) {
        throw new TrainerOverloadedError(this.#piscina.queueSize);
      }
      throw error;
    }
  }

  /** Waits for running jobs, then stops the threads. */
  async destroy(): Promise<void> {
    await this.#piscina.close();
  }
}

function requireInteger(field: string, value: unknown, min: number): void {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw new RangeError(`${field} must be an integer of ${min} or more, got ${String(value)}`);
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
