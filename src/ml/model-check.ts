import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ModelOutputKind } from '../entities/enums';
import type { ClassificationMetrics } from './classification-metrics';
import { disableOnnxTelemetry } from './onnx-env';

/** What to check an uploaded ONNX classifier against. */
export interface ModelCheckRequest {
  /** The model file as uploaded. */
  onnx: Uint8Array;
  /** Features per row in the dataset. */
  featureDim: number;
  /** Classes in the dataset. */
  classCount: number;
  /** The input that takes the features. Default: the model's only input. */
  inputName?: string;
  /**
   * The output giving class scores. Default: the output whose name contains `prob`, else the one
   * whose name contains `logit` (case-insensitive), else the model's only output.
   */
  outputName?: string;
  /** What the class-score output gives. Default: from its name (`prob` or `logit`). */
  outputKind?: ModelOutputKind;
  /** An output giving a per-row embedding. Default: the output whose name contains `embed`, if any. */
  embeddingOutput?: string;
  /**
   * Rows to run, row-major and `featureDim` wide. Default: 5 rows of fixed pseudo-random values in
   * [0, 1). More than one row, so a model with a fixed batch size of 1 is caught.
   */
  sample?: Float32Array;
  /**
   * Labelled rows to measure the model on once it passed (the dataset's VALIDATION items):
   * row-major `featureDim`-wide features and their class indices.
   */
  evaluate?: { features: Float32Array; labels: Int32Array };
  /**
   * Unlabelled rows (row-major, `featureDim` wide) whose predicted classes come back as
   * `predictions`: the dataset's stop set, for the stopping signal.
   */
  predict?: Float32Array;
}

/** How to use a model that passed the check. */
export interface ModelCheckResult {
  inputName: string;
  outputName: string;
  outputKind: ModelOutputKind;
  embeddingOutputName: string | null;
  /** Width of the embedding output; null when there is none. */
  embeddingDim: number | null;
  /** The model's metrics on `evaluate`, when given (and not empty). */
  metrics?: ClassificationMetrics;
  /** Its probabilities on `evaluate`'s rows, row-major (to fit a temperature on). */
  evaluated?: Float32Array;
  /** Its predicted class of each `predict` row. */
  predictions?: Int16Array;
}

/** Limits on the child process that validates one model. */
export interface ModelCheckLimits {
  /** Wall time from starting the child (about 0.2 s of it is Node and onnxruntime start-up). */
  timeoutMs: number;
  /**
   * Peak resident set size of the child, polled every 50 ms from `/proc` (Linux only; elsewhere
   * not enforced). Node and onnxruntime alone take about 80 MiB.
   */
  maxRssBytes: number;
}

/** The model is unusable; the message says why in words meant for the person who uploaded it. */
export class ModelCheckError extends Error {
  override name = 'ModelCheckError';
}

/** Sent to the child; `sample` is always present. Not part of the public contract. */
export type ModelCheckChildRequest = Omit<ModelCheckRequest, 'sample'> & { sample: Float32Array };

/**
 * The child's single reply. `internal` marks a failure of the checker itself rather than of the
 * model, so the reason is not for users.
 */
export type ModelCheckChildReply =
  { ok: true; result: ModelCheckResult } | { ok: false; reason: string; internal: boolean };

const CHILD_SCRIPT = path.join(__dirname, 'model-check.child.js');
const RSS_POLL_INTERVAL_MS = 50;
const DEFAULT_SAMPLE_ROWS = 5;
const DEFAULT_SAMPLE_SEED = 0x5eed;
const MIB = 1024 * 1024;
/** Node fires longer timers at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Loads an untrusted ONNX model in a child process, runs a test batch and checks the outputs
 * against the dataset's shape. The child is killed when it exceeds a limit, and is gone by the
 * time the promise settles.
 *
 * @throws ModelCheckError when the model is unusable, crashes, or exceeds a limit
 * @throws RangeError when the request or the limits are malformed (a caller bug)
 * @throws Error when the child cannot be started or the checker itself fails
 */
export async function checkModel(
  req: ModelCheckRequest,
  limits: ModelCheckLimits,
): Promise<ModelCheckResult> {
  validateRequest(req, limits);
  const message: ModelCheckChildRequest = {
    ...req,
    sample: req.sample ?? pseudoRandomSample(DEFAULT_SAMPLE_ROWS, req.featureDim),
  };
  const reply = await runChild(message, limits);
  if (reply.ok) return reply.result;
  if (reply.internal) throw new Error(`model check failed: ${reply.reason}`);
  throw new ModelCheckError(reply.reason);
}

function runChild(
  message: ModelCheckChildRequest,
  limits: ModelCheckLimits,
): Promise<ModelCheckChildReply> {
  disableOnnxTelemetry();
  return new Promise((resolve, reject) => {
    const child = fork(CHILD_SCRIPT, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      // The parent's flags (--inspect, test-runner hooks) are not for the child.
      execArgv: [],
    });

    let reply: ModelCheckChildReply | undefined;
    let exceeded: ModelCheckError | undefined;
    let failure: Error | undefined;
    let settled = false;

    const kill = (): void => {
      child.kill('SIGKILL');
    };
    const overLimit = (error: ModelCheckError): void => {
      if (reply === undefined && exceeded === undefined) exceeded = error;
      kill();
    };
    // VmHWM is the peak, so a spike between two polls is still seen while the child lives.
    const checkMemory = (): void => {
      const peakBytes = child.pid === undefined ? null : readPeakRssBytes(child.pid);
      if (peakBytes !== null && peakBytes > limits.maxRssBytes) {
        overLimit(
          new ModelCheckError(`validation used more than ${formatMib(limits.maxRssBytes)} MiB`),
        );
      }
    };
    const timer = setTimeout(
      () => overLimit(new ModelCheckError(`validation took longer than ${limits.timeoutMs} ms`)),
      limits.timeoutMs,
    );
    const poll = setInterval(checkMemory, RSS_POLL_INTERVAL_MS);

    const settle = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(poll);
      if (exceeded) reject(exceeded);
      else if (reply) resolve(reply);
      else if (failure) reject(failure);
      else {
        const cause = signal ? `signal ${signal}` : `exit code ${code}`;
        reject(new ModelCheckError(`the model crashed onnxruntime during validation (${cause})`));
      }
    };

    child.on('message', (m: ModelCheckChildReply) => {
      checkMemory();
      if (exceeded === undefined) reply = m;
      // The child has nothing left to do or flush; killing it is quicker and certain.
      kill();
    });
    child.on('error', (error) => {
      failure ??= new Error(`model check process failed: ${error.message}`);
      if (child.pid === undefined) settle(null, null);
      else kill();
    });
    // 'close' rather than 'exit': it comes after the IPC channel has delivered every message.
    child.on('close', settle);

    child.send(message, (error) => {
      if (error) {
        failure ??= new Error(`could not send the model to the check process: ${error.message}`);
        kill();
      }
    });
  });
}

function validateRequest(req: ModelCheckRequest, limits: ModelCheckLimits): void {
  const requirePositive = (field: string, value: number, integer: boolean): void => {
    if (!(integer ? Number.isInteger(value) : Number.isFinite(value)) || value <= 0) {
      throw new RangeError(
        `${field} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`,
      );
    }
  };
  if (!(req.onnx instanceof Uint8Array)) {
    throw new RangeError('request.onnx must be a Buffer or Uint8Array');
  }
  requirePositive('request.featureDim', req.featureDim, true);
  requirePositive('request.classCount', req.classCount, true);
  if (req.outputKind !== undefined && !Object.values(ModelOutputKind).includes(req.outputKind)) {
    throw new RangeError(
      `request.outputKind must be one of ${Object.values(ModelOutputKind).join(', ')}`,
    );
  }
  if (req.sample !== undefined) {
    const { length } = req.sample;
    if (length === 0 || length % req.featureDim !== 0) {
      throw new RangeError(
        `request.sample has ${length} values, expected a positive multiple of featureDim (${req.featureDim})`,
      );
    }
    if (!req.sample.every(Number.isFinite)) {
      throw new RangeError('request.sample must hold finite values only');
    }
  }
  requirePositive('limits.timeoutMs', limits.timeoutMs, false);
  if (limits.timeoutMs > MAX_TIMER_MS) {
    throw new RangeError(`limits.timeoutMs must be at most ${MAX_TIMER_MS}`);
  }
  requirePositive('limits.maxRssBytes', limits.maxRssBytes, false);
}

/** Peak resident set size of a live process, or null when it cannot be read (exited, not Linux). */
function readPeakRssBytes(pid: number): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : null;
}

/** Same values on every call (mulberry32), so a check is reproducible. */
function pseudoRandomSample(rows: number, featureDim: number): Float32Array {
  let state = DEFAULT_SAMPLE_SEED;
  const sample = new Float32Array(rows * featureDim);
  for (let i = 0; i < sample.length; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    // 24 bits fit a float32 exactly, so no value rounds up to 1.
    sample[i] = ((t ^ (t >>> 14)) >>> 8) / 0x1000000;
  }
  return sample;
}

function formatMib(bytes: number): string {
  return String(Number((bytes / MIB).toFixed(1)));
}
