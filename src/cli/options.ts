import { Command, InvalidArgumentError } from 'commander';
import { GraphQLClientError, QuarryClient } from './client';

const DEFAULT_URL = 'http://localhost:4000/graphql';

/** The API client of `--url` and `--api-key`, else `QUARRY_URL` and `QUARRY_API_KEY`. */
export function clientFrom(opts: { url?: string; apiKey?: string }): QuarryClient {
  const apiKey = opts.apiKey ?? process.env.QUARRY_API_KEY;
  if (!apiKey) {
    throw new GraphQLClientError('No API key: pass --api-key or set QUARRY_API_KEY.');
  }
  return new QuarryClient({ url: opts.url ?? process.env.QUARRY_URL ?? DEFAULT_URL, apiKey });
}

/** Adds `--url` and `--api-key` to a command that calls the API. */
export function apiOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', `GraphQL endpoint (env QUARRY_URL, default ${DEFAULT_URL})`)
    .option('--api-key <key>', 'API key (env QUARRY_API_KEY)');
}

/** Parses an integer from 1 to `max`. */
export function positiveInt(max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`must be an integer from 1 to ${max}`);
    return n;
  };
}

/** Parses a comma-separated list, blanks dropped. */
export function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Parses a share strictly between 0 and 1. */
export function shareOption(value: string): number {
  const share = Number(value);
  if (!(share > 0 && share < 1)) throw new InvalidArgumentError('must be between 0 and 1');
  return share;
}

/** Shares of the rows held out of the pool, e.g. `test=0.2,validation=0.1`. */
export interface Holdout {
  test: number;
  validation: number;
}

/** Parses `--holdout`, e.g. `test=0.2,validation=0.1`. */
export function holdoutOption(value: string): Holdout {
  const h: Holdout = { test: 0, validation: 0 };
  for (const part of value.split(',')) {
    const [k, v] = part.split('=').map((x) => x.trim());
    const share = Number(v);
    if ((k !== 'test' && k !== 'validation') || !(share >= 0 && share < 1)) {
      throw new InvalidArgumentError(
        'expected e.g. test=0.2,validation=0.1 (shares from 0 to 1 of the rows)',
      );
    }
    h[k] = share;
  }
  if (h.test + h.validation >= 1)
    throw new InvalidArgumentError('the shares must add up to less than 1');
  return h;
}
