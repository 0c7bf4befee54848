import { QuarryError } from './errors.js';

/** How a call that is safe to repeat is retried. */
export interface RetryOptions {
  /** Further attempts after the first. Default 5. */
  retries: number;
  /** The first backoff; each next one doubles, with full jitter. Default 100. */
  minDelayMs: number;
  /** The longest backoff, and the longest `Retry-After` honoured. Default 10,000. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 5, minDelayMs: 100, maxDelayMs: 10_000 };

/**
 * Whether a failed call may be repeated. `NETWORK_ERROR`: the answer was lost, so only calls
 * that are safe to repeat (reads, or writes carrying an idempotency key) may be; a
 * `SERVICE_OVERLOADED` refusal did nothing, so any call may.
 */
export function isRetryable(e: unknown, idempotent: boolean): e is QuarryError {
  if (!(e instanceof QuarryError)) return false;
  if (e.code === 'SERVICE_OVERLOADED') return true;
  if (e.code === 'NETWORK_ERROR') return idempotent;
  // A gateway or an overloaded proxy in front of the server answered, not Quarry.
  return (
    idempotent &&
    e.code === 'BAD_RESPONSE' &&
    (e.status === 502 || e.status === 503 || e.status === 504)
  );
}

/** The wait before attempt `attempt` (1 = the first retry): the server's word, else backoff. */
export function retryDelayMs(e: QuarryError, attempt: number, opts: RetryOptions): number {
  if (e.retryAfterMs !== undefined) return Math.min(e.retryAfterMs, opts.maxDelayMs);
  const ceiling = Math.min(opts.maxDelayMs, opts.minDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or bad. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortError(signal: AbortSignal): QuarryError {
  return new QuarryError({
    code: 'ABORTED',
    message: 'The call was aborted.',
    cause: signal.reason,
  });
}

/** Runs `call` until it succeeds, fails in a way not worth repeating, or runs out of retries. */
export async function withRetry<T>(
  call: () => Promise<T>,
  opts: RetryOptions & { idempotent: boolean; signal?: AbortSignal },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt > opts.retries || !isRetryable(e, opts.idempotent)) throw e;
      await sleep(retryDelayMs(e, attempt, opts), opts.signal);
    }
  }
}
