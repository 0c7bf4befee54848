/**
 * What the benchmarks share about the server they measure: it runs as its own Node process,
 * started like `quarry serve`, and stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The `quarry` command, from `dist/bench`. */
export const QUARRY = path.resolve(__dirname, '../../bin/quarry.js');

/**
 * The Node flags `npm start` runs the server with (package.json's start script), so that the
 * benchmarks measure the server as it is run.
 */
export const START_NODE_ARGS: string[] = (() => {
  const pkg = JSON.parse(
    fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'),
  ) as { scripts: { start: string } };
  const words = pkg.scripts.start.split(/\s+/);
  return words.slice(1, words.indexOf('bin/quarry.js')).filter((w) => w.startsWith('--'));
})();

export interface ServerProcess {
  child: ChildProcess;
  url: string;
}

/**
 * Starts `node <args>` (default `quarry serve`, with the Node flags of `npm start` when it is
 * Quarry) on a free port and resolves once it prints `"url":"http://…/graphql"`. QUARRY_BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof
 * --cpu-prof-dir=prof") passes Node flags; QUARRY_BENCH_VERBOSE echoes its output; `onLine` sees
 * each line it prints; `extraNodeArgs` are more Node flags (e.g. `--cpu-prof`).
 */
export function spawnServer(
  env: NodeJS.ProcessEnv,
  args: string[] = [QUARRY, 'serve'],
  onLine?: (line: string) => void,
  extraNodeArgs: string[] = [],
): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const nodeArgs = [
      ...(args[0]?.endsWith('quarry.js') ? START_NODE_ARGS : []),
      ...(process.env.QUARRY_BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean),
      ...extraNodeArgs,
    ];
    const child = spawn(process.execPath, [...nodeArgs, ...args], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (process.env.QUARRY_BENCH_VERBOSE) process.stdout.write(`    server: ${chunk}`);
      if (onLine) for (const line of chunk.toString().split('\n')) onLine(line);
      const m = /"url":"(http:\/\/[^"]+\/graphql)"/.exec(out);
      if (m) resolve({ child, url: m[1] });
      if (out.length > 100_000) out = out.slice(-10_000);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

/** Stops a server started by {@link spawnServer} (nothing when it already ended). */
export async function stopServer(s: ServerProcess | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  s.child.removeAllListeners('exit');
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
}

/** What one annotator loop saw: latencies, errors, and how often each query was handed out. */
export class LoopStats {
  readonly claimMs: number[] = [];
  readonly submitMs: number[] = [];
  readonly bothMs: number[] = [];
  /** Times each query id was handed out, over the whole run (warm-up included). */
  readonly served = new Map<string, number>();
  readonly errors = new Map<string, number>();
  /** Submits that succeeded, over the whole run. */
  submitted = 0;
  /** Claim -> submit iterations started inside the measured window. */
  measured = 0;
  measuredSecs = 0;

  error(what: string): void {
    this.errors.set(what, (this.errors.get(what) ?? 0) + 1);
  }

  get claims(): number {
    let n = 0;
    for (const c of this.served.values()) n += c;
    return n;
  }

  get doubleServes(): number {
    let n = 0;
    for (const c of this.served.values()) n += c - 1;
    return n;
  }

  get rate(): number {
    return this.measured / this.measuredSecs;
  }
}
