import { Command, InvalidArgumentError } from 'commander';
import { QuarryClient, type Dataset } from '@quarry/client';

const DEFAULT_URL = 'http://localhost:4000/graphql';

/** A failure the CLI names itself (no key, no such dataset, server unreachable). */
export class CliError extends Error {}

/** The SDK client of a command, with the endpoint and key it was made from. */
export interface CliClient {
  sdk: QuarryClient;
  url: string;
  apiKey: string;
}

/**
 * The API client of `--url` and `--api-key`, else `QUARRY_URL` and `QUARRY_API_KEY`: the SDK's
 * `QuarryClient` without retries (a command fails at once, as a script expects), whose failed
 * connections read as the CLI has always said them.
 */
export function clientFrom(opts: { url?: string; apiKey?: string }): CliClient {
  const apiKey = opts.apiKey ?? process.env.QUARRY_API_KEY;
  if (!apiKey) {
    throw new CliError('No API key: pass --api-key or set QUARRY_API_KEY.');
  }
  const url = opts.url ?? process.env.QUARRY_URL ?? DEFAULT_URL;
  const sdk = new QuarryClient({
    url,
    apiKey,
    retry: { retries: 0 },
    fetch: async (input, init) => {
      try {
        return await fetch(input, init);
      } catch (e) {
        throw new CliError(
          `Cannot reach Quarry at ${url}: ${(e as Error).message}. Is the server running (npm start)?`,
        );
      }
    },
  });
  return { sdk, url, apiKey };
}

/** A dataset, given its id or its name. */
export async function resolveDataset(client: CliClient, idOrName: string): Promise<Dataset> {
  const datasets = await client.sdk.datasets.list();
  const found =
    datasets.find((d) => d.id === idOrName) ?? datasets.find((d) => d.name === idOrName);
  if (!found)
    throw new CliError(
      `No dataset with id or name ${JSON.stringify(idOrName)} is visible to this key.`,
    );
  return found;
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
