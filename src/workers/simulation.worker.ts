/**
 * Runs a simulation in a worker thread of its own, so its minutes of CPU never block the event
 * loop, with progress messages back to the caller.
 *
 * A plain `worker_threads` Worker rather than a `WorkerPool`: a simulation streams progress on
 * the same port as its result (so every step is reported before the result arrives), loads the
 * plugin modules of its own call, and cancelling terminates its thread, so a pooled thread would
 * never be reused after a cancel; a run takes minutes, so starting a thread costs nothing worth
 * pooling, and simulations are already one at a time per process (the task queue's batch size).
 * It shares the kit's transfer list and its errors across threads (`worker-pool.ts`): a
 * `QuarryError` thrown in the simulation arrives with its code and extensions intact.
 *
 * This module is both sides: imported, it gives {@link runSimulationInWorker}; started as a
 * worker by it (recognised by its `workerData`), it runs the simulation and posts
 * {@link SimulationWorkerMessage}s.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { QuarryError } from '../errors';
import { disableOnnxTelemetry } from '../ml/onnx-env';
import { loadStrategies } from '../strategies/registry';
import { loadTrainers } from '../plugins/trainers/registry';
import {
  runSimulation,
  type SimulationInput,
  type SimulationProgress,
  type SimulationResult,
} from '../ml/simulation-engine';
import { errorForThread, errorFromThread, transferListOf } from './worker-pool';

/** The compiled worker module. */
const SIMULATION_WORKER_FILE = __filename;

/** Marks the `workerData` of a simulation worker. */
const WORKER_KIND = 'quarry-simulation';

/** Options of {@link runSimulationInWorker}. */
export interface SimulationWorkerOptions {
  /** Strategy plugin modules besides the built-ins, as given to `loadStrategies`. */
  strategyModules?: readonly string[];
  /** Trainer plugin modules besides the built-ins, as given to `loadTrainers`. */
  trainerModules?: readonly string[];
  /**
   * Called after each step (see `runSimulation`), on the caller's thread. If it throws, the
   * worker is terminated and the promise rejects with that error.
   */
  onProgress?: (progress: SimulationProgress) => void;
  /** Aborting terminates the worker; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** `workerData` of a simulation worker. */
interface SimulationWorkerData {
  kind: typeof WORKER_KIND;
  input: SimulationInput;
  strategyModules: string[];
  trainerModules: string[];
}

/** What a simulation worker posts to its parent. */
export type SimulationWorkerMessage =
  | { type: 'progress'; progress: SimulationProgress }
  | { type: 'result'; result: SimulationResult }
  | {
      type: 'error';
      /** What `errorForThread` made of the error: a coded error as data, anything else as it is. */
      error: unknown;
    };

/**
 * Runs `runSimulation` in a new worker thread and resolves with its result. The input's
 * `features`, `groundTruth` and `split` buffers are transferred, not copied: they are detached
 * in the caller afterwards (copy them first to keep them). Plugin modules are loaded in the
 * worker.
 *
 * @throws BadUserInputError (rebuilt from the worker's message, code and problems intact) for
 *   input `runSimulation` refuses; any other `QuarryError` likewise with its code
 * @throws the signal's reason when `signal` aborts (the worker is terminated at once)
 * @throws Error with the worker's message for anything else (a plugin that throws, a crash)
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const result = await runSimulationInWorker(input, {
 *   onProgress: ({ done, total }) => job.progress(done / total),
 *   signal: controller.signal,
 * });
 * ```
 */
export function runSimulationInWorker(
  input: SimulationInput,
  options: SimulationWorkerOptions = {},
): Promise<SimulationResult> {
  const { signal, onProgress } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const data: SimulationWorkerData = {
    kind: WORKER_KIND,
    input,
    strategyModules: [...(options.strategyModules ?? [])],
    trainerModules: [...(options.trainerModules ?? [])],
  };
  const transferList = transferListOf([input.features, input.groundTruth, input.split]);
  return new Promise<SimulationResult>((resolve, reject) => {
    let settled = false;
    disableOnnxTelemetry();
    const worker = new Worker(SIMULATION_WORKER_FILE, { workerData: data, transferList });
    const settle = (finish: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      finish();
    };
    const onAbort = (): void => {
      settle(() => reject(signal!.reason));
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (message: SimulationWorkerMessage) => {
      switch (message.type) {
        case 'progress':
          if (settled) break;
          try {
            onProgress?.(message.progress);
          } catch (error) {
            // A failing callback must not become an uncaught exception of the caller's process.
            settle(() => reject(error));
            void worker.terminate();
          }
          break;
        case 'result':
          settle(() => resolve(message.result));
          break;
        case 'error':
          settle(() => reject(rebuildError(message)));
          break;
        default: {
          const unknown: never = message;
          settle(() =>
            reject(
              new Error(
                `unexpected message from the simulation worker: ${JSON.stringify(unknown)}`,
              ),
            ),
          );
        }
      }
    });
    worker.on('error', (error) => settle(() => reject(error)));
    worker.on('exit', (exitCode) =>
      settle(() =>
        reject(new Error(`the simulation worker stopped (exit code ${exitCode}) without a result`)),
      ),
    );
  });
}

function rebuildError(message: Extract<SimulationWorkerMessage, { type: 'error' }>): Error {
  const error = errorFromThread(message.error);
  if (error instanceof QuarryError) return error;
  const cause = error as { message?: unknown; stack?: unknown } | null;
  const rebuilt = new Error(`simulation failed: ${String(cause?.message ?? error)}`);
  if (typeof cause?.stack === 'string') {
    rebuilt.stack = `${rebuilt.message}\n--- in the simulation worker ---\n${cause.stack}`;
  }
  return rebuilt;
}

/** The worker side: run once, post progress, the result or the error, and end. */
function serve(data: SimulationWorkerData): void {
  const port = parentPort!;
  const post = (message: SimulationWorkerMessage): void => port.postMessage(message);
  try {
    const registries = {
      strategies: loadStrategies(data.strategyModules),
      trainers: loadTrainers(data.trainerModules),
    };
    const result = runSimulation(data.input, registries, (progress) =>
      post({ type: 'progress', progress }),
    );
    post({ type: 'result', result });
  } catch (error) {
    post({ type: 'error', error: errorForThread(error) });
  }
}

if (!isMainThread && (workerData as Partial<SimulationWorkerData> | null)?.kind === WORKER_KIND) {
  serve(workerData as SimulationWorkerData);
}
