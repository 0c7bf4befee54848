/**
 * Training through piscina in real worker threads, with the compiled worker module. onnxruntime
 * checks the result in a worker of its own (see helpers.ts).
 */
import path from 'node:path';
import { Piscina } from 'piscina';
import { BadUserInputError } from '../../../src/errors';
import { TRAINER_WORKER_FILE, TrainerPool } from '../../../src/workers/trainer.pool';
import { loadTrainers, trainWith } from '../../../src/plugins/trainers/registry';
import {
  trainTransferList,
  type TrainRequest,
  type TrainResult,
} from '../../../src/workers/trainer.worker';
import { argmaxRows, maxAbsDifference, runOnnx, separable } from './helpers';

const plugin = path.resolve(__dirname, '../../fixtures/trainers/nearest-centroid.js');
const refusing = path.resolve(__dirname, '../../fixtures/workers/refusing-trainer.js');

function request(overrides: Partial<TrainRequest> = {}): TrainRequest {
  const train = separable(60, 11);
  const unseen = separable(21, 12);
  return {
    trainer: 'mlp',
    options: { hiddenUnits: 12, epochs: 200, earlyStopping: false },
    ...train,
    predict: { features: unseen.features, rows: unseen.rows, embeddings: true },
    ...overrides,
  };
}

describe('trainInWorker', () => {
  let piscina: Piscina;
  beforeAll(() => {
    piscina = new Piscina({ filename: TRAINER_WORKER_FILE, maxThreads: 1 });
  });
  afterAll(async () => {
    await piscina.close();
  });

  it('trains through piscina and returns a valid ONNX model, its predictions and the facts', async () => {
    const task = request();
    const unseen = separable(21, 12);
    const result = (await piscina.run(task, {
      name: 'trainInWorker',
      transferList: trainTransferList(task),
    })) as TrainResult;

    // The buffers moved to the worker instead of being copied.
    expect(task.features.byteLength).toBe(0);
    expect(task.predict!.features.byteLength).toBe(0);
    expect(task.labels).toHaveLength(0);

    const onnx = await runOnnx(result.onnx, unseen.features, unseen.rows, unseen.dim);
    expect(argmaxRows(onnx.outputs.probabilities.data, 3)).toEqual(Array.from(unseen.labels));
    const { predictions } = result;
    expect(predictions!.rows).toBe(21);
    expect(
      maxAbsDifference(predictions!.probabilities, onnx.outputs.probabilities.data),
    ).toBeLessThan(1e-5);
    expect(maxAbsDifference(predictions!.embeddings!, onnx.outputs.embedding.data)).toBeLessThan(
      1e-5,
    );
    expect(result.embeddingDim).toBe(12);
    expect(result.inputDim).toBe(5);

    const { facts } = result;
    expect(facts).toMatchObject({
      trainer: 'mlp',
      rows: 60,
      classCounts: [20, 20, 20],
      epochs: 200,
    });
    expect(facts.options).toMatchObject({ hiddenUnits: 12, epochs: 200, activation: 'relu' });
    expect(facts.seconds).toBeGreaterThan(0);
    expect(facts.finalLoss).toBeGreaterThan(0);
    expect(facts.finalLoss).toBeLessThan(0.1);
  });

  it('gives the same model as training on this thread', async () => {
    const task = request({
      trainer: 'softmax',
      options: { C: 1, seed: 3 },
      predict: undefined,
      // The dataset's standardisation travels with the request and is what the model keeps.
      datasetStandardizer: {
        mean: new Float32Array(5).fill(2),
        scale: new Float32Array(5).fill(3),
      },
    });
    const here = trainWith(loadTrainers(), 'softmax', task, task.options).model.export();
    const result = (await piscina.run(
      { ...task, features: task.features.slice() },
      {
        name: 'trainInWorker',
      },
    )) as TrainResult;
    expect(Buffer.from(result.onnx).equals(Buffer.from(here))).toBe(true);
  });
});

describe('TrainerPool', () => {
  let pool: TrainerPool;
  beforeAll(() => {
    pool = new TrainerPool(loadTrainers([plugin, refusing]));
  });
  afterAll(async () => {
    await pool.destroy();
  });

  it('trains with a plugin trainer, loading its module in the worker', async () => {
    const unseen = separable(21, 12);
    const result = await pool.train(request({ trainer: 'nearest-centroid', options: undefined }));
    expect(result.facts.options).toEqual({ sharpness: 1 });
    expect(argmaxRows(result.predictions!.probabilities, 3)).toEqual(Array.from(unseen.labels));
    const onnx = await runOnnx(result.onnx, unseen.features, unseen.rows, unseen.dim);
    expect(argmaxRows(onnx.outputs.probabilities.data, 3)).toEqual(Array.from(unseen.labels));
  });

  it('refuses bad options with BAD_USER_INPUT before sending anything', async () => {
    const task = request({ options: { hiddenUnits: 0 } });
    await expect(pool.train(task)).rejects.toThrow(BadUserInputError);
    await expect(pool.train(task)).rejects.toThrow('options.hiddenUnits must be >= 1');
    expect(task.features.byteLength).toBe(60 * 5 * 4);
  });

  it('refuses labels of one class with BAD_USER_INPUT', async () => {
    const task = request({ labels: new Int32Array(60) });
    await expect(pool.train(task)).rejects.toThrow(
      'All 60 labelled rows are of class 0; training a classifier needs labels of at least two distinct classes.',
    );
  });

  it('gives a coded error thrown by a trainer in the worker to the caller with its code', async () => {
    const task = request({ trainer: 'refusing', options: undefined });
    const error = await pool.train(task).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadUserInputError);
    expect(error).toMatchObject({
      message: 'refusing will not train on 60 rows',
      extensions: {
        code: 'BAD_USER_INPUT',
        problems: [{ field: 'labels', message: 'refused by the plugin' }],
      },
    });
  });

  it('refuses a job beyond the queue with SERVICE_OVERLOADED', async () => {
    const small = new TrainerPool(loadTrainers(), { threads: 1, maxQueue: 0 });
    try {
      const busy = small.train(request());
      const refused = request();
      await expect(small.train(refused)).rejects.toMatchObject({
        extensions: { code: 'SERVICE_OVERLOADED' },
      });
      expect(refused.features.byteLength).toBe(60 * 5 * 4);
      await expect(busy).resolves.toMatchObject({ facts: { trainer: 'mlp' } });
    } finally {
      await small.destroy();
    }
  });

  it('refuses malformed options, naming them', () => {
    expect(() => new TrainerPool(loadTrainers(), { threads: 0 })).toThrow(
      'options.threads must be an integer of 1 or more, got 0',
    );
  });
});
