/**
 * The worker kit: what every piece of work that runs off the server's event loop shares.
 *
 * - {@link WorkerPool}: one piscina wrapper. Options checked with messages naming them; a full
 *   queue refused with {@link ServiceOverloadedError} (`SERVICE_OVERLOADED`) rather than queued
 *   without bound; typed arrays transferred, not copied; a `QuarryError` thrown in a worker
 *   arrives on the caller's thread with its code intact; `destroy()` drains, then stops.
 * - {@link transferListOf} and {@link movable}: typed arrays' buffers moved between threads, from
 *   the caller's side and from the worker's.
 * - {@link taskHandler}, {@link errorForThread} and {@link errorFromThread}: errors across
 *   threads. Structured cloning keeps an `Error`'s message and stack but drops the `extensions`
 *   of a `GraphQLError`, so a coded error travels as plain data and is rebuilt on arrival.
 *
 * The simulation worker (`simulation.worker.ts`) is a plain `worker_threads` Worker, not a pool,
 * and uses the transfer and error pieces only; see the comment there.
 */
import { types } from 'node:util';
import { Piscina } from 'piscina';
import { disableOnnxTelemetry } from '../ml/onnx-env';
import {
  BadUserInputError,
  ConflictError,
  ErrorCode,
  ForbiddenError,
  PayloadTooLargeError,
  QuarryError,
  ServiceOverloadedError,
} from '../errors';

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** The compiled piscina task module. */
  filename: string;
  /** Worker threads, an integer of 1 or more. */
  threads: number;
  /**
   * Tasks that may wait for a busy pool; one more is refused with {@link ServiceOverloadedError}
   * (nothing is sent). `0`: none wait.
   */
  maxQueue: number;
  /**
   * Keep every thread alive while idle, for workers that load something once and keep it (an
   * exited worker loses it). Default false: threads start on demand and stop when idle.
   */
  keepThreads?: boolean;
  /** Given to every worker as `workerData`. */
  workerData?: unknown;
  /**
   * How messages name the pool, its workers and its tasks, e.g.
   * `{ pool: 'inference pool', workers: 'inference workers', tasks: 'tasks' }`.
   */
  names: { pool: string; workers: string; tasks: string };
  /**
   * A task sent once to every thread by `destroy()` before the threads stop, to release what the
   * workers hold. `task()` is called once and its value sent to each thread: the task module must
   * make each copy wait for the others (a shared barrier), so that no two land on one thread.
   */
  farewell?: { name: string; task: () => unknown };
}

/** piscina's messages (its `errors.ts`) when its queue is full, or there is none and no free worker. */
const PISCINA_OVERLOAD_MESSAGES = new Set([
  'Task queue is at limit',
  'No task queue available and all Workers are busy',
]);

/**
 * A pool of worker threads running the task functions a module exports (piscina).
 *
 * @example
 * ```ts
 * const pool = new WorkerPool({ filename, threads: 2, maxQueue: 8, names });
 * const result = await pool.run<ScoreResult>('score', task, [task.features]);
 * await pool.destroy();
 * ```
 */
export class WorkerPool {
  readonly threads: number;
  readonly maxQueue: number;
  readonly #names: WorkerPoolOptions['names'];
  readonly #farewell: WorkerPoolOptions['farewell'];
  readonly #piscina: Piscina;
  readonly #inFlight = new Set<Promise<unknown>>();
  #destroying: Promise<void> | undefined;

  /** @throws RangeError naming the offending option (`options.threads`, `options.maxQueue`) */
  constructor(options: WorkerPoolOptions) {
    requireInteger('options.threads', options.threads, 1);
    requireInteger('options.maxQueue', options.maxQueue, 0);
    this.threads = options.threads;
    this.maxQueue = options.maxQueue;
    this.#names = options.names;
    this.#farewell = options.farewell;
    disableOnnxTelemetry();
    this.#piscina = new Piscina({
      filename: options.filename,
      minThreads: options.keepThreads ? options.threads : 0,
      maxThreads: options.threads,
      maxQueue: options.maxQueue,
      concurrentTasksPerWorker: 1,
      workerData: options.workerData,
    });
  }

  /** Tasks waiting for a free worker. */
  get queueSize(): number {
    return this.#piscina.queueSize;
  }

  /** Tasks running in a worker now. */
  get running(): number {
    return Math.max(0, this.#inFlight.size - this.#piscina.queueSize);
  }

  /** Share of the pool's capacity used since it started, 0 to 1 (piscina's `utilization`). */
  get utilization(): number {
    return this.#piscina.utilization;
  }

  /**
   * Runs the module's export `name` with `task` in a worker. The buffers of `arrays` are
   * transferred: detached in the caller afterwards, unless the task was refused.
   *
   * @throws ServiceOverloadedError when the queue is full (nothing was sent)
   * @throws Error when the pool has been destroyed
   * @throws the worker's error; a `QuarryError` arrives rebuilt with its code and extensions
   */
  async run<R>(
    name: string,
    task: unknown,
    arrays: Iterable<ArrayBufferView | readonly number[] | null | undefined> = [],
  ): Promise<R> {
    if (this.#destroying) throw new Error(`The ${this.#names.pool} has been destroyed.`);
    const running = this.#piscina.run(task, { name, transferList: transferListOf(arrays) });
    this.#inFlight.add(running);
    try {
      return (await running) as R;
    } catch (error) {
      if (error instanceof Error && PISCINA_OVERLOAD_MESSAGES.has(error.message)) {
        throw new ServiceOverloadedError(
          `The ${this.#names.workers} are busy (${this.#piscina.queueSize} ${this.#names.tasks} waiting); try again in a moment.`,
        );
      }
      throw errorFromThread(error);
    } finally {
      this.#inFlight.delete(running);
    }
  }

  /**
   * Waits for the tasks already accepted, sends the farewell task to every thread, and stops the
   * threads. Idempotent; tasks submitted afterwards are refused.
   */
  destroy(): Promise<void> {
    this.#destroying ??= this.#shutdown();
    return this.#destroying;
  }

  async #shutdown(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
    if (this.#farewell) {
      const { name, task } = this.#farewell;
      const sent = task();
      await Promise.allSettled(
        Array.from({ length: this.threads }, () => this.#piscina.run(sent, { name })),
      );
    }
    await this.#piscina.destroy();
  }
}

/**
 * The distinct buffers behind these arrays, for a transfer list. Shared memory is not moved (it
 * is shared already) and plain number arrays are copied.
 */
export function transferListOf(
  arrays: Iterable<ArrayBufferView | readonly number[] | null | undefined>,
): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const a of arrays) {
    if (a && ArrayBuffer.isView(a) && !types.isSharedArrayBuffer(a.buffer)) {
      buffers.add(a.buffer as ArrayBuffer);
    }
  }
  return [...buffers];
}

/**
 * In a piscina task: `result`, marked so that the buffers of `arrays` are transferred back to the
 * caller instead of copied.
 */
export function movable<T>(
  result: T,
  arrays: Iterable<ArrayBufferView | readonly number[] | null | undefined>,
): T {
  const buffers = transferListOf(arrays);
  const moved = {
    get [Piscina.transferableSymbol]() {
      return buffers;
    },
    get [Piscina.valueSymbol]() {
      return result;
    },
  };
  return Piscina.move(moved as never) as unknown as T;
}

/** Marks a coded error as it crosses a thread, see {@link errorForThread}. */
const CODED_ERROR = 'quarry-coded-error';

/** A `QuarryError` as plain, cloneable data. */
export interface CodedErrorData {
  kind: typeof CODED_ERROR;
  code: string;
  message: string;
  extensions: Record<string, unknown>;
  stack?: string;
}

/**
 * What a worker should throw or post for `error`: a coded error (one with a string
 * `extensions.code`) as {@link CodedErrorData}, anything else as it is (structured cloning keeps
 * an `Error`'s message and stack).
 */
export function errorForThread(error: unknown): unknown {
  const extensions = (error as { extensions?: Record<string, unknown> } | null)?.extensions;
  if (!(error instanceof Error) || typeof extensions?.code !== 'string') return error;
  const data: CodedErrorData = {
    kind: CODED_ERROR,
    code: extensions.code,
    message: error.message,
    extensions: { ...extensions },
    stack: error.stack,
  };
  return data;
}

/** Classes rebuilt for a code; any other code becomes a plain `QuarryError` with it. */
const ERROR_CLASS: Partial<Record<string, new (message: string) => QuarryError>> = {
  [ErrorCode.BAD_USER_INPUT]: BadUserInputError,
  [ErrorCode.FORBIDDEN]: ForbiddenError,
  [ErrorCode.CONFLICT]: ConflictError,
  [ErrorCode.PAYLOAD_TOO_LARGE]: PayloadTooLargeError,
  [ErrorCode.SERVICE_OVERLOADED]: ServiceOverloadedError,
};

/**
 * The error a worker sent, as the caller's thread should see it: {@link CodedErrorData} rebuilt
 * as the `QuarryError` of its code (`BadUserInputError` for `BAD_USER_INPUT`), its extensions
 * (e.g. `problems`) and the worker's stack intact; anything else unchanged.
 */
export function errorFromThread(error: unknown): unknown {
  const data = error as Partial<CodedErrorData> | null;
  if (data?.kind !== CODED_ERROR || typeof data.code !== 'string') return error;
  const message = data.message ?? '';
  const Class = ERROR_CLASS[data.code];
  const rebuilt = Class
    ? new Class(message)
    : new QuarryError(data.code as ErrorCode, message, data.extensions);
  Object.assign(rebuilt.extensions, data.extensions);
  if (data.stack) rebuilt.stack = data.stack;
  return rebuilt;
}

/**
 * A piscina task function whose errors cross the thread with their code: wrap each export of a
 * task module with it.
 */
export function taskHandler<T, R>(run: (task: T) => R | Promise<R>): (task: T) => Promise<R> {
  return async (task) => {
    try {
      return await run(task);
    } catch (error) {
      throw errorForThread(error);
    }
  };
}

/** @throws RangeError `<field> must be an integer of <min> or more, got <value>` */
export function requireInteger(field: string, value: unknown, min: number): void {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw new RangeError(`${field} must be an integer of ${min} or more, got ${String(value)}`);
  }
}

/** @throws RangeError `<field> must be a non-empty string` */
export function requireString(field: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') {
    throw new RangeError(`${field} must be a non-empty string`);
  }
}

/** `{ ...defaults, ...given }`, where an option given as `undefined` keeps its default. */
export function withDefaults<D extends object, G extends object>(defaults: D, given: G): D & G {
  const set = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  return { ...defaults, ...set } as D & G;
}
