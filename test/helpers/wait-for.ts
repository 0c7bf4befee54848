import { inspect } from 'node:util';

/** How {@link waitFor} polls. */
export interface WaitForOptions<T> {
  /** What is awaited, in words; the timeout message names it: `round 12 to open`. */
  what: string;
  /** Gives up after this long. Default 30 000. */
  timeoutMs?: number;
  /** Pause between two probes. Default 100. */
  intervalMs?: number;
  /** Whether a probed value is the one awaited. Default: the value is truthy. */
  until?: (value: T) => boolean;
}

const DEFAULTS = { timeoutMs: 30_000, intervalMs: 100, until: (value: unknown) => Boolean(value) };

/** The longest rendering of the last value a timeout message quotes. */
const MAX_SHOWN_CHARS = 2_000;

/**
 * Probes `probe` (a predicate, or an async getter) every `intervalMs` until `until` accepts what
 * it returned, and resolves with that value. After `timeoutMs` it rejects with an error naming
 * `what` and the last value seen. An error thrown by `probe` rejects at once: it is a failure
 * (a round that FAILED), not a value to wait past.
 *
 * @example
 * const round = await waitFor(() => getRound(id), {
 *   until: (r) => r.status === 'OPEN',
 *   what: `round ${id} to open`,
 * });
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  options: WaitForOptions<T>,
): Promise<T> {
  const { what, timeoutMs, intervalMs, until } = { ...DEFAULTS, ...options };
  if (!(timeoutMs > 0)) throw new Error(`options.timeoutMs must be positive, got ${timeoutMs}`);
  if (!(intervalMs > 0)) throw new Error(`options.intervalMs must be positive, got ${intervalMs}`);
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (until(value)) return value;
    const left = started + timeoutMs - Date.now();
    if (left <= 0) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last value: ${shown(value)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, left)));
  }
}

function shown(value: unknown): string {
  const text = inspect(value, { depth: 6, breakLength: Infinity, maxArrayLength: 50 });
  return text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}…` : text;
}
