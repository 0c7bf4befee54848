import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The `quarry` command of this checkout (compiled). */
export const QUARRY = path.resolve(__dirname, '../../../bin/quarry.js');

/** A `quarry serve` process. */
export interface Served {
  child: ChildProcess;
  /** e.g. http://127.0.0.1:41234/graphql */
  url: string;
  /** The URL without /graphql. */
  base: string;
  /** What the process has written to stdout and stderr so far. */
  output(): string;
}

/** Starts `quarry serve` as a real process and waits until it logs where it listens. */
export function serve(env: NodeJS.ProcessEnv): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [QUARRY, 'serve'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    // A process that did not start in time is killed: no failed test leaves a server running.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${out}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"url":"(http:\/\/[^"]+\/graphql)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], base: m[1].replace(/\/graphql$/, ''), output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
}

/**
 * Starts several `quarry serve` processes at once; when one fails to start, the others are
 * killed before the error is thrown (so a failed test leaves no process behind).
 */
export async function serveAll(envs: NodeJS.ProcessEnv[]): Promise<Served[]> {
  const started = await Promise.allSettled(envs.map((env) => serve(env)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return started.map((s) => (s as PromiseFulfilledResult<Served>).value);
  await Promise.all(
    started.map((s) => (s.status === 'fulfilled' ? stopProcess(s.value, 'SIGKILL') : undefined)),
  );
  throw failed.reason;
}

/** Sends `signal` (SIGKILL: a crash; SIGTERM: a shutdown) and waits for the process to exit. */
export function stopProcess(s: Served, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    s.child.removeAllListeners('exit');
    s.child.once('exit', () => resolve());
    s.child.kill(signal);
  });
}

/** One GraphQL operation against a served process; throws on any error. */
export async function gqlTo(
  s: Served,
  key: string,
  query: string,
  variables: Record<string, unknown> = {},
) {
  const res = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}
