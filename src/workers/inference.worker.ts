/**
 * The inference worker: a piscina task module, one per thread of `InferencePool`. Never imported
 * on the server's own thread: onnxruntime's `run()` computes synchronously on its caller's thread.
 *
 * Each worker keeps its ONNX sessions keyed by the model's SHA-256 (one intra-op thread each, so
 * threads in total = pool threads), and the strategy modules it has required.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { BatchStrategy, PointwiseStrategy, Strategy } from '../strategies/types';
import { argmaxRows, softmaxRows } from '../strategies/rows';
import { nonFiniteRows, withoutRows } from './finite-rows';
import { temperProbabilities } from '../ml/calibration';
import { helpSelection, leadTeam } from '../strategies/kernels/passes';
import { finishTeam } from '../strategies/kernels/team';
import { firstLine, scoreTop, selectBatch } from '../strategies/selection';
import type {
  HelpTask,
  ModelRef,
  Pick,
  ReleaseTask,
  ScoredRows,
  ScoreResult,
  ScoreTask,
  SelectTask,
  StrategyRef,
  WorkerSettings,
} from './inference.types';
import { movable, taskHandler } from './worker-pool';

const settings = workerData as WorkerSettings;

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  // Errors reach the caller as rejected tasks; onnxruntime's own log lines would repeat them.
  logSeverityLevel: 4,
};

/** Most recently used last (a Map keeps insertion order). */
const sessions = new Map<string, Promise<ort.InferenceSession>>();
const strategyModules = new Map<string, Map<string, Strategy>>();

/** Scores a block of rows with one model or a committee; see `ScoreTask`. */
export const score = taskHandler(async (task: ScoreTask): Promise<ScoreResult> => {
  try {
    return transferable(await runScore(task));
  } finally {
    await evictSessions();
  }
});

/** Runs a batch strategy's `select` with a seeded generator; see `SelectTask`. */
export const select = taskHandler((task: SelectTask): Pick[] => {
  const memory = task.teamMemory;
  try {
    const strategy = findStrategy(task.strategy, 'batch') as BatchStrategy;
    if (!strategy.usesTeam || !memory) {
      if (memory) finishTeam(memory);
      return selectBatch(strategy, task.strategy, task);
    }
    return selectBatch(strategy, task.strategy, { ...task, team: leadTeam(memory) });
  } finally {
    if (memory) finishTeam(memory);
  }
});

/**
 * Lends this thread to the selection team of a `select` running on another thread until that
 * selection finishes (at once when it already has); returns how many blocks it computed.
 */
export const help = taskHandler((task: HelpTask): number => helpSelection(task.teamMemory));

/**
 * Releases every session of this worker. `InferencePool.destroy` sends one per thread; each
 * waits at a shared barrier until all have started, and a waiting task holds its thread, so no
 * two land on the same worker.
 */
export async function release(task: ReleaseTask): Promise<number> {
  const counter = new Int32Array(task.barrier);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
  const deadline = Date.now() + task.waitMs;
  for (;;) {
    const seen = Atomics.load(counter, 0);
    const left = deadline - Date.now();
    if (seen >= task.workers || left <= 0) break;
    Atomics.wait(counter, 0, seen, left);
  }
  const loaded = [...sessions.values()];
  sessions.clear();
  strategyModules.clear();
  const released = await Promise.allSettled(
    loaded.map(async (pending) => (await pending).release()),
  );
  return released.filter((r) => r.status === 'fulfilled').length;
}

async function runScore(task: ScoreTask): Promise<ScoreResult> {
  const { models, features, rows, dim } = task;
  const first = models[0];
  const embeddingName = task.embeddings ? first.embeddingOutputName : undefined;
  if (task.embeddings && !embeddingName) {
    throw new Error(
      `model ${describe(first)} has no embedding output, but embeddings were asked for`,
    );
  }
  const pointwise = task.pointwise
    ? (findStrategy(task.pointwise, 'pointwise') as PointwiseStrategy)
    : undefined;

  let classCount = 0;
  const probabilities: Float32Array[] = [];
  let embeddings: Float32Array | undefined;
  let embeddingDim: number | undefined;
  for (const [m, model] of models.entries()) {
    const session = await loadSession(model);
    checkNames(session, model, m === 0 ? embeddingName : undefined);
    const names = m === 0 && embeddingName ? [model.outputName, embeddingName] : [model.outputName];
    let probs: Float32Array | undefined;
    for (let start = 0; start < rows; start += settings.batchRows) {
      const n = Math.min(settings.batchRows, rows - start);
      const input = new ort.Tensor('float32', features.subarray(start * dim, (start + n) * dim), [
        n,
        dim,
      ]);
      // Once the first batch has given the widths, onnxruntime writes straight into the result
      // arrays: measured 10-20% faster with a 256-wide embedding than copying its outputs.
      let bound: Record<string, ort.Tensor> | undefined;
      if (probs !== undefined) {
        bound = { [model.outputName]: rowsOf(probs, start, n, classCount) };
        if (embeddingName && embeddings && embeddingDim !== undefined) {
          bound[embeddingName] = rowsOf(embeddings, start, n, embeddingDim);
        }
      }
      let outputs: ort.InferenceSession.ReturnType;
      try {
        outputs = await session.run({ [model.inputName]: input }, bound ?? names);
      } catch (error) {
        throw new Error(
          `model ${describe(model)} failed on rows ${start} to ${start + n - 1}: ${firstLine(error)}`,
        );
      }
      if (bound) continue;
      const scores = matrix(outputs[model.outputName], model, model.outputName, n);
      if (m === 0) classCount = scores.width;
      else if (scores.width !== classCount) {
        throw new Error(
          `model ${describe(model)} gives ${scores.width} classes, but model ${describe(first)} gives ${classCount}; a committee must agree on the classes`,
        );
      }
      probs = new Float32Array(rows * classCount);
      probs.set(scores.data);
      if (m === 0 && embeddingName) {
        const embedding = matrix(outputs[embeddingName], model, embeddingName, n);
        embeddingDim = embedding.width;
        embeddings = new Float32Array(rows * embeddingDim);
        embeddings.set(embedding.data);
      }
    }
    probs ??= new Float32Array(0);
    if (model.outputKind === 'LOGITS') softmaxRows(probs, rows, classCount);
    if (model.temperature !== undefined && model.temperature !== 1) {
      temperProbabilities(probs, classCount, model.temperature);
    }
    probabilities.push(probs);
  }

  // Rows whose outputs are not finite (any model's, or the embedding) are left out: strategies,
  // predictions and auto-labels see the rest only, and the caller counts them.
  const outputs = probabilities.map((data) => ({ data, width: classCount }));
  if (embeddings && embeddingDim !== undefined)
    outputs.push({ data: embeddings, width: embeddingDim });
  const skipped = nonFiniteRows(outputs, rows);
  let kept = rows;
  if (skipped.length > 0) {
    kept = rows - skipped.length;
    for (let m = 0; m < probabilities.length; m++)
      probabilities[m] = withoutRows(probabilities[m], classCount, skipped);
    if (embeddings && embeddingDim !== undefined)
      embeddings = withoutRows(embeddings, embeddingDim, skipped);
  }

  const { predictedClass, confidence } = argmaxRows(probabilities[0], kept, classCount);
  const result: ScoreResult = { rows: kept, classCount, predictedClass, confidence };
  if (skipped.length > 0) result.skipped = skipped;
  const pool: ScoredRows = { rows: kept, classCount, probabilities, embeddings, embeddingDim };
  if (pointwise && task.pointwise) {
    result.top = scoreTop(pointwise, task.pointwise, pool);
  } else {
    result.all = { probabilities, embeddings, embeddingDim };
  }
  return result;
}

function loadSession(model: ModelRef): Promise<ort.InferenceSession> {
  const key = model.sha256.toLowerCase();
  let pending = sessions.get(key);
  if (pending) {
    sessions.delete(key);
  } else {
    pending = createSession(model, key);
    // A failed load is not kept: the next task tries again (the file may have been restored).
    pending.catch(() => {
      if (sessions.get(key) === pending) sessions.delete(key);
    });
  }
  sessions.set(key, pending);
  return pending;
}

async function createSession(model: ModelRef, sha256: string): Promise<ort.InferenceSession> {
  let bytes: Buffer;
  try {
    bytes = await readFile(model.path);
  } catch (error) {
    throw new Error(`cannot read model file ${model.path}: ${firstLine(error)}`);
  }
  // The session is kept under this hash for the worker's life: it must be the file's.
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) {
    throw new Error(`model file ${model.path} has SHA-256 ${actual}, expected ${sha256}`);
  }
  try {
    return await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
  } catch (error) {
    throw new Error(`onnxruntime could not load model ${describe(model)}: ${firstLine(error)}`);
  }
}

/** Releases the least recently used sessions beyond the limit; run between tasks. */
async function evictSessions(): Promise<void> {
  while (sessions.size > settings.maxSessionsPerWorker) {
    const [key, pending] = sessions.entries().next().value!;
    sessions.delete(key);
    await pending.then(
      (session) => session.release(),
      () => undefined,
    );
  }
}

function checkNames(
  session: ort.InferenceSession,
  model: ModelRef,
  embeddingName: string | null | undefined,
): void {
  const quote = (names: readonly string[]): string => names.map((n) => `'${n}'`).join(', ');
  if (!session.inputNames.includes(model.inputName)) {
    throw new Error(
      `model ${describe(model)} has no input '${model.inputName}'; its inputs are ${quote(session.inputNames)}`,
    );
  }
  for (const name of embeddingName ? [model.outputName, embeddingName] : [model.outputName]) {
    if (!session.outputNames.includes(name)) {
      throw new Error(
        `model ${describe(model)} has no output '${name}'; its outputs are ${quote(session.outputNames)}`,
      );
    }
  }
}

function matrix(
  value: ort.OnnxValue | undefined,
  model: ModelRef,
  name: string,
  rows: number,
): { data: Float32Array; width: number } {
  if (value?.type !== 'float32') {
    throw new Error(
      `model ${describe(model)}: output '${name}' gives ${value?.type ?? 'nothing'}, expected float32`,
    );
  }
  const { dims } = value;
  if (dims.length !== 2 || dims[0] !== rows || dims[1] < 1) {
    throw new Error(
      `model ${describe(model)}: output '${name}' has shape [${dims.join(', ')}] for ${rows} rows, expected [${rows}, width]`,
    );
  }
  return { data: value.data as Float32Array, width: dims[1] };
}

/** Rows `start` to `start + n - 1` of a row-major matrix, as a tensor over the same memory. */
function rowsOf(values: Float32Array, start: number, n: number, width: number): ort.Tensor {
  return new ort.Tensor('float32', values.subarray(start * width, (start + n) * width), [n, width]);
}

function findStrategy(ref: StrategyRef, kind: Strategy['kind']): Strategy {
  let byCode = strategyModules.get(ref.modulePath);
  if (byCode === undefined) {
    let exported: unknown;
    try {
      // Plugin modules are CommonJS or ESM-compiled-to-CommonJS, as the server's own code is.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      exported = require(ref.modulePath);
    } catch (error) {
      throw new Error(`cannot load strategy module ${ref.modulePath}: ${firstLine(error)}`);
    }
    const list = (exported as { strategies?: unknown } | null)?.strategies;
    if (!Array.isArray(list)) {
      throw new Error(`strategy module ${ref.modulePath} does not export 'strategies' as an array`);
    }
    byCode = new Map((list as Strategy[]).map((s) => [s.code, s]));
    strategyModules.set(ref.modulePath, byCode);
  }
  const strategy = byCode.get(ref.code);
  if (strategy === undefined) {
    throw new Error(`strategy module ${ref.modulePath} has no strategy '${ref.code}'`);
  }
  if (strategy.kind !== kind) {
    throw new Error(`strategy '${ref.code}' is ${strategy.kind}, expected a ${kind} strategy`);
  }
  return strategy;
}

/** Marks the result's typed arrays for transfer back to the caller's thread. */
function transferable(result: ScoreResult): ScoreResult {
  const { all, top } = result;
  return movable(result, [
    result.predictedClass,
    result.confidence,
    result.skipped,
    ...(all?.probabilities ?? []),
    all?.embeddings,
    top?.rows,
    top?.scores,
    ...(top?.probabilities ?? []),
    top?.embeddings,
  ]);
}

function describe(model: ModelRef): string {
  return model.sha256.slice(0, 12);
}
