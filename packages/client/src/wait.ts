import { QuarryError } from './errors.js';
import { abortError } from './retry.js';

/** Options of every call that waits for a job on the server to finish. */
export interface WaitOptions {
  /** Give up (with `TIMEOUT`) after this long; the job goes on on the server. Default: never. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Overrides the client's `pollIntervalMs` for this wait. */
  pollIntervalMs?: number;
}

/**
 * Reads a job's state until `settled` says it is done, polling every `pollIntervalMs` and
 * reading again at once whenever `wake` is called (a subscription event).
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  settled: (state: T) => boolean,
  opts: WaitOptions & { pollIntervalMs: number; what: string },
  onWake?: (wake: () => void) => () => void,
): Promise<T> {
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  let wakeUp: () => void = () => undefined;
  let woken = false;
  const unsubscribe = onWake?.(() => {
    woken = true;
    wakeUp();
  });
  try {
    for (;;) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      woken = false;
      const state = await read();
      if (settled(state)) return state;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new QuarryError({
          code: 'TIMEOUT',
          message: `${opts.what} did not finish in ${opts.timeoutMs} ms`,
        });
      }
      if (woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, opts.pollIntervalMs));
        const onAbort = () => done();
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        function done() {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          wakeUp = () => undefined;
          resolve();
        }
        wakeUp = done;
      });
    }
  } finally {
    unsubscribe?.();
  }
}

/** The error for a job that ended without succeeding. */
export function taskFailed(
  what: string,
  status: string,
  error: string | null | undefined,
): QuarryError {
  return new QuarryError({
    code: 'TASK_FAILED',
    message: `${what} ended ${status}${error ? `: ${error}` : ''}`,
    extensions: { status, error: error ?? null },
  });
}
