/**
 * Child process of `checkModel` (model-check.ts): receives one request over IPC, loads the model,
 * runs the test batch, sends one reply and waits to be killed. Run by `fork`, never imported.
 *
 * Everything here assumes the model is hostile: it may crash or hang onnxruntime, which is why
 * it runs in its own process that the parent can kill.
 */
import * as ort from 'onnxruntime-node';
import { ModelOutputKind } from '../entities/enums';
import { classificationMetrics } from './classification-metrics';
import type { ModelCheckChildReply, ModelCheckChildRequest, ModelCheckResult } from './model-check';

/** A reason the model is unusable, worded for the person who uploaded it. */
class Rejection extends Error {}

const PROBABILITY_RANGE_TOLERANCE = 1e-4;
const ROW_SUM_TOLERANCE = 1e-3;
const MAX_ORT_MESSAGE_CHARS = 300;

type TensorMetadata = Extract<ort.InferenceSession.ValueMetadata, { isTensor: true }>;

process.once('message', (request: ModelCheckChildRequest) => {
  void respond(request);
});
// The parent is gone; nobody will read a reply or kill this process.
process.once('disconnect', () => process.exit(0));

async function respond(request: ModelCheckChildRequest): Promise<void> {
  let reply: ModelCheckChildReply;
  try {
    reply = { ok: true, result: await check(request) };
  } catch (error) {
    const rejected = error instanceof Rejection;
    reply = { ok: false, reason: rejected ? error.message : firstLine(error), internal: !rejected };
  }
  process.send?.(reply);
}

async function check(request: ModelCheckChildRequest): Promise<ModelCheckResult> {
  const { featureDim, classCount, sample } = request;
  const rows = sample.length / featureDim;

  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(request.onnx, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
    });
  } catch (error) {
    throw new Rejection(`onnxruntime could not load the model: ${firstLine(error)}`);
  }

  const inputName = resolveInputName(session.inputNames, request.inputName);
  checkInputMetadata(session.inputMetadata, inputName, featureDim);

  const outputName = resolveClassOutputName(session.outputNames, request.outputName);
  const outputKind = request.outputKind ?? outputKindFromName(outputName);
  const embeddingName = resolveEmbeddingName(
    session.outputNames,
    request.embeddingOutput,
    outputName,
  );
  checkClassOutputMetadata(session.outputMetadata, outputName, classCount);

  let outputs: ort.InferenceSession.ReturnType;
  try {
    const feeds = { [inputName]: new ort.Tensor('float32', sample, [rows, featureDim]) };
    outputs = await session.run(
      feeds,
      embeddingName === null ? [outputName] : [outputName, embeddingName],
    );
  } catch (error) {
    throw new Rejection(
      `onnxruntime failed to run the model on a test batch of ${rows} rows: ${firstLine(error)}`,
    );
  }

  const scores = floatMatrix(outputs[outputName], outputName, rows);
  if (scores.width !== classCount) {
    throw new Rejection(
      `output '${outputName}' gives ${scores.width} classes per row, but the dataset has ${classCount} classes`,
    );
  }
  if (outputKind === ModelOutputKind.PROBABILITIES) checkProbabilities(scores, outputName);

  let embeddingDim: number | null = null;
  if (embeddingName !== null) {
    embeddingDim = floatMatrix(outputs[embeddingName], embeddingName, rows).width;
    if (embeddingDim === 0) {
      throw new Rejection(`output '${embeddingName}' gives an empty embedding`);
    }
  }

  let metrics: ModelCheckResult['metrics'];
  let evaluated: Float32Array | undefined;
  if (request.evaluate && request.evaluate.labels.length > 0) {
    evaluated = await probabilitiesOf(
      session,
      request,
      request.evaluate.features,
      inputName,
      outputName,
      outputKind,
    );
    metrics = classificationMetrics(request.evaluate.labels, evaluated, classCount);
  }
  let predictions: Int16Array | undefined;
  if (request.predict && request.predict.length > 0) {
    const probs = await probabilitiesOf(
      session,
      request,
      request.predict,
      inputName,
      outputName,
      outputKind,
    );
    predictions = new Int16Array(probs.length / classCount);
    for (let r = 0; r < predictions.length; r++) {
      let best = 0;
      for (let c = 1; c < classCount; c++) {
        if (probs[r * classCount + c] > probs[r * classCount + best]) best = c;
      }
      predictions[r] = best;
    }
  }
  await session.release();
  return {
    inputName,
    outputName,
    outputKind,
    embeddingOutputName: embeddingName,
    embeddingDim,
    metrics,
    evaluated,
    predictions,
  };
}

const EVALUATION_BATCH_ROWS = 4096;

/** Runs the model over rows in batches: their probabilities, row-major. */
async function probabilitiesOf(
  session: ort.InferenceSession,
  request: ModelCheckChildRequest,
  features: Float32Array,
  inputName: string,
  outputName: string,
  outputKind: ModelOutputKind,
): Promise<Float32Array> {
  const { featureDim, classCount } = request;
  const rows = features.length / featureDim;
  const probabilities = new Float32Array(rows * classCount);
  for (let start = 0; start < rows; start += EVALUATION_BATCH_ROWS) {
    const n = Math.min(EVALUATION_BATCH_ROWS, rows - start);
    const batch = features.subarray(start * featureDim, (start + n) * featureDim);
    let out: ort.InferenceSession.ReturnType;
    try {
      out = await session.run({ [inputName]: new ort.Tensor('float32', batch, [n, featureDim]) }, [
        outputName,
      ]);
    } catch (error) {
      throw new Rejection(
        `onnxruntime failed to run the model on the dataset's items: ${firstLine(error)}`,
      );
    }
    const scores = floatMatrix(out[outputName], outputName, n);
    const target = probabilities.subarray(start * classCount, (start + n) * classCount);
    target.set(scores.data);
    if (outputKind === ModelOutputKind.LOGITS) softmaxRows(target, classCount);
  }
  return probabilities;
}

function softmaxRows(values: Float32Array, width: number): void {
  for (let r = 0; r < values.length; r += width) {
    let max = -Infinity;
    for (let c = 0; c < width; c++) max = Math.max(max, values[r + c]);
    let sum = 0;
    for (let c = 0; c < width; c++) {
      values[r + c] = Math.exp(values[r + c] - max);
      sum += values[r + c];
    }
    for (let c = 0; c < width; c++) values[r + c] /= sum;
  }
}

function resolveInputName(inputNames: readonly string[], requested: string | undefined): string {
  if (requested !== undefined) {
    if (!inputNames.includes(requested)) {
      throw new Rejection(
        `the model has no input named '${requested}'; its inputs are ${quoteList(inputNames)}`,
      );
    }
    return requested;
  }
  if (inputNames.length === 0) throw new Rejection('the model has no inputs');
  if (inputNames.length > 1) {
    throw new Rejection(
      `the model has ${inputNames.length} inputs (${quoteList(inputNames)}); name the one that takes the features with inputName`,
    );
  }
  return inputNames[0];
}

function checkInputMetadata(
  metadata: readonly ort.InferenceSession.ValueMetadata[],
  name: string,
  featureDim: number,
): void {
  const what = `the model's input '${name}'`;
  const meta = tensorMetadata(metadata, name, what);
  if (meta === undefined) return;
  if (meta.type !== 'float32') {
    throw new Rejection(`${what} takes ${meta.type} values; it must take float32`);
  }
  const { shape } = meta;
  // onnxruntime reports an unknown shape as [], so only a non-empty shape can be checked here.
  if (shape.length === 0) return;
  if (shape.length !== 2) {
    throw new Rejection(
      `${what} has shape ${formatShape(shape)}; it must have shape [rows, ${featureDim}]`,
    );
  }
  if (typeof shape[1] === 'number' && shape[1] !== featureDim) {
    throw new Rejection(
      `${what} takes ${shape[1]} features per row, but the dataset has ${featureDim}`,
    );
  }
  if (typeof shape[0] === 'number') {
    throw new Rejection(
      `${what} has a fixed batch size of ${shape[0]}; its first dimension must be symbolic (such as 'N') so that it takes any number of rows`,
    );
  }
}

function resolveClassOutputName(
  outputNames: readonly string[],
  requested: string | undefined,
): string {
  if (requested !== undefined) {
    if (!outputNames.includes(requested)) {
      throw new Rejection(
        `the model has no output named '${requested}'; its outputs are ${quoteList(outputNames)}`,
      );
    }
    return requested;
  }
  for (const pattern of [/prob/i, /logit/i]) {
    const matches = outputNames.filter((n) => pattern.test(n));
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) {
      throw new Rejection(
        `several outputs could give the class scores (${quoteList(matches)}); name one with outputName`,
      );
    }
  }
  if (outputNames.length === 1) return outputNames[0];
  if (outputNames.length === 0) throw new Rejection('the model has no outputs');
  throw new Rejection(
    `cannot tell which output gives the class scores among ${quoteList(outputNames)}; name it with outputName`,
  );
}

function outputKindFromName(outputName: string): ModelOutputKind {
  if (/prob/i.test(outputName)) return ModelOutputKind.PROBABILITIES;
  if (/logit/i.test(outputName)) return ModelOutputKind.LOGITS;
  throw new Rejection(
    `cannot tell from its name whether output '${outputName}' gives probabilities or logits; declare outputKind`,
  );
}

function resolveEmbeddingName(
  outputNames: readonly string[],
  requested: string | undefined,
  classOutput: string,
): string | null {
  if (requested !== undefined) {
    if (!outputNames.includes(requested)) {
      throw new Rejection(
        `the model has no output named '${requested}' for the embedding; its outputs are ${quoteList(outputNames)}`,
      );
    }
    if (requested === classOutput) {
      throw new Rejection(
        `output '${requested}' cannot be both the class scores and the embedding`,
      );
    }
    return requested;
  }
  const matches = outputNames.filter((n) => n !== classOutput && /embed/i.test(n));
  if (matches.length > 1) {
    throw new Rejection(
      `several outputs could give the embedding (${quoteList(matches)}); name one with embeddingOutput`,
    );
  }
  return matches[0] ?? null;
}

function checkClassOutputMetadata(
  metadata: readonly ort.InferenceSession.ValueMetadata[],
  name: string,
  classCount: number,
): void {
  const meta = tensorMetadata(metadata, name, `output '${name}'`);
  if (meta === undefined) return;
  if (meta.type !== 'float32') {
    throw new Rejection(`output '${name}' gives ${meta.type} values; it must give float32`);
  }
  const { shape } = meta;
  if (shape.length === 2 && typeof shape[1] === 'number' && shape[1] !== classCount) {
    throw new Rejection(
      `output '${name}' gives ${shape[1]} classes per row, but the dataset has ${classCount} classes`,
    );
  }
}

/** The value's tensor metadata; undefined when the runtime does not report it. */
function tensorMetadata(
  metadata: readonly ort.InferenceSession.ValueMetadata[] | undefined,
  name: string,
  what: string,
): TensorMetadata | undefined {
  const meta = metadata?.find((m) => m.name === name);
  if (meta === undefined) return undefined;
  if (!meta.isTensor) {
    throw new Rejection(
      `${what} is not a tensor (it is a sequence or map); it must be a float32 tensor`,
    );
  }
  return meta;
}

interface FloatMatrix {
  data: Float32Array;
  rows: number;
  width: number;
}

function floatMatrix(value: ort.OnnxValue | undefined, name: string, rows: number): FloatMatrix {
  if (value === undefined) throw new Rejection(`output '${name}' gave no value on a test batch`);
  if (value.type !== 'float32') {
    throw new Rejection(`output '${name}' gives ${value.type} values; it must give float32`);
  }
  const { dims } = value;
  if (dims.length !== 2) {
    throw new Rejection(
      `output '${name}' has shape ${formatShape(dims)} on a test batch of ${rows} rows; it must be [rows, width]`,
    );
  }
  if (dims[0] !== rows) {
    throw new Rejection(`output '${name}' gives ${dims[0]} rows for a test batch of ${rows} rows`);
  }
  const data = value.data as Float32Array;
  if (!data.every(Number.isFinite)) {
    throw new Rejection(`output '${name}' has non-finite values (NaN or Infinity) on a test batch`);
  }
  return { data, rows, width: dims[1] };
}

function checkProbabilities({ data, rows, width }: FloatMatrix, name: string): void {
  const what = `output '${name}' should give probabilities (outputKind PROBABILITIES), but`;
  const outside = data.find(
    (v) => v < -PROBABILITY_RANGE_TOLERANCE || v > 1 + PROBABILITY_RANGE_TOLERANCE,
  );
  if (outside !== undefined) {
    throw new Rejection(`${what} gives ${formatNumber(outside)} on a test batch, outside [0, 1]`);
  }
  for (let row = 0; row < rows; row++) {
    let sum = 0;
    for (let j = 0; j < width; j++) sum += data[row * width + j];
    if (Math.abs(sum - 1) > ROW_SUM_TOLERANCE) {
      throw new Rejection(`${what} a row of a test batch sums to ${formatNumber(sum)}, not 1`);
    }
  }
}

/** onnxruntime's messages can run to many lines of context; the first says what went wrong. */
function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split('\n', 1)[0].trim();
  return line.length > MAX_ORT_MESSAGE_CHARS ? `${line.slice(0, MAX_ORT_MESSAGE_CHARS)}...` : line;
}

function quoteList(names: readonly string[]): string {
  return names.map((n) => `'${n}'`).join(', ');
}

function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.map((d) => (d === '' ? '?' : String(d))).join(', ')}]`;
}

function formatNumber(value: number): string {
  return String(Number(value.toPrecision(6)));
}
