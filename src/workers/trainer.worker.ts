/**
 * The trainer worker: a piscina task module, so training (seconds to minutes of CPU) never runs
 * on the server's event loop. Run it through {@link TrainerPool} (trainer.pool.ts), or through any
 * piscina instance:
 *
 * ```ts
 * const piscina = new Piscina({ filename: TRAINER_WORKER_FILE });
 * const result: TrainResult = await piscina.run(request, {
 *   name: 'trainInWorker',
 *   transferList: trainTransferList(request),
 * });
 * ```
 *
 * `workerData` may carry {@link TrainerWorkerSettings} (the plugin modules to load besides the
 * built-ins). Typed arrays travel both ways as transferred buffers.
 */
import { workerData } from 'node:worker_threads';
import { loadTrainers, trainWith, type TrainerRegistry } from '../plugins/trainers/registry';
import type { Prediction, Standardizer } from '../plugins/trainers/types';
import { movable, taskHandler, transferListOf } from './worker-pool';

/** One training job for a worker. */
export interface TrainRequest {
  /** Trainer code, e.g. `softmax`. */
  trainer: string;
  /** Options as the user gave them; validated, and defaults applied, in the worker too. */
  options?: Record<string, unknown>;
  /** Row-major `rows x dim` training features (transferred: detached afterwards). */
  features: Float32Array;
  /** Class index of each training row (an `Int32Array` is transferred). */
  labels: Int32Array | number[];
  rows: number;
  dim: number;
  classCount: number;
  /**
   * Mean and scale of the features of every item of the dataset, labelled or not (see
   * `TrainingData.datasetStandardizer`); small, copied rather than transferred.
   */
  datasetStandardizer?: Standardizer;
  /**
   * Rows to predict with the trained model in the same task (a validation split, the pool), so
   * they need not wait for the model to be registered and loaded by the inference pool.
   */
  predict?: {
    /** Row-major `rows x dim` (transferred). */
    features: Float32Array;
    rows: number;
    /** Also return the embedding of each row. Default false. */
    embeddings?: boolean;
  };
}

/** What a training job measured, for the model's record and the logs. */
export interface TrainFacts {
  trainer: string;
  /** The options it ran with, defaults included. */
  options: Record<string, unknown>;
  /** Training rows. */
  rows: number;
  /** Training rows of each class, `classCount` entries. */
  classCounts: number[];
  epochs: number;
  /** Wall time of the training itself (not the export or predictions), in seconds. */
  seconds: number;
  /** Mean cross-entropy of the final model on the training rows (no L2 term). */
  finalLoss: number;
  /** What training chose from the data (see `TrainedModel.fitted`), when the trainer says. */
  fitted?: Record<string, unknown>;
}

/** A training job's result; every typed array in it was transferred from the worker. */
export interface TrainResult {
  /** The trained model as ONNX (`features` in; `probabilities` and `embedding` out). */
  onnx: Uint8Array;
  /** Present when the request asked for `predict`. */
  predictions?: Prediction;
  facts: TrainFacts;
  /** Input width of the model and width of its `embedding` output. */
  inputDim: number;
  embeddingDim: number;
}

/** `workerData` of a trainer worker. */
export interface TrainerWorkerSettings {
  /** Plugin modules besides the built-ins, as given to `loadTrainers`. */
  pluginModules?: string[];
}

let registry: TrainerRegistry | undefined;

/**
 * Trains, exports ONNX and (if asked) predicts, in the calling worker thread.
 *
 * @throws BadUserInputError for bad options or data; through a {@link WorkerPool} it arrives with
 *   its code (through a bare piscina, as data: see `errorFromThread`)
 */
export const trainInWorker = taskHandler((request: TrainRequest): TrainResult => {
  registry ??= loadTrainers((workerData as TrainerWorkerSettings | null)?.pluginModules);
  const { trainer, options, features, labels, rows, dim, classCount, predict } = request;
  const { datasetStandardizer } = request;
  const outcome = trainWith(
    registry,
    trainer,
    { features, labels, rows, dim, classCount, datasetStandardizer },
    options,
  );
  const { model } = outcome;
  const result: TrainResult = {
    onnx: ownedBytes(model.export()),
    facts: {
      trainer,
      options: outcome.options,
      rows,
      classCounts: outcome.classCounts,
      epochs: model.epochs,
      seconds: outcome.seconds,
      finalLoss: model.finalLoss,
      ...(model.fitted ? { fitted: model.fitted } : {}),
    },
    inputDim: model.inputDim,
    embeddingDim: model.embeddingDim,
  };
  if (predict) {
    result.predictions = model.predict(predict.features, predict.rows, {
      embeddings: predict.embeddings ?? false,
    });
  }
  return movable(result, [
    result.onnx,
    result.predictions?.probabilities,
    result.predictions?.embeddings,
  ]);
});

/** The typed arrays of a request whose buffers are transferred to the worker. */
export function trainArrays(request: TrainRequest): (ArrayBufferView | number[] | undefined)[] {
  return [request.features, request.labels, request.predict?.features];
}

/** The buffers of a request to transfer to the worker (each once; shared memory is not moved). */
export function trainTransferList(request: TrainRequest): ArrayBuffer[] {
  return transferListOf(trainArrays(request));
}

/**
 * protobufjs may hand back a Node `Buffer` cut from a shared pool slab; transferring that slab
 * would detach other buffers of this thread. A copy the size of the model owns its memory.
 */
function ownedBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) {
    return new Uint8Array(bytes.buffer as ArrayBuffer);
  }
  return new Uint8Array(bytes);
}
