/**
 * What bench:queues measures besides the closed loops: the statements a claim and a submit send
 * to the database (the server's `quarry_db_statements_total`), an open-loop load at the pace of
 * people, and where the server's CPU goes (a `--cpu-prof` profile, summarised by self time).
 */
import fs from 'node:fs';
import path from 'node:path';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The server's statements sent to its database and CPU seconds (user + system) so far. */
export async function serverCounters(
  url: string,
  adminKey: string,
): Promise<{ statements: number; cpuSeconds: number }> {
  const res = await fetch(url.replace(/\/graphql$/, '/metrics'), {
    headers: { authorization: `Bearer ${adminKey}` },
  });
  const text = await res.text();
  const statements = /^quarry_db_statements_total (\d+)/m.exec(text);
  const cpu = /^process_cpu_seconds_total ([\d.e+-]+)/m.exec(text);
  if (!statements || !cpu) throw new Error('the server reports no statement or CPU counter');
  return { statements: Number(statements[1]), cpuSeconds: Number(cpu[1]) };
}

/** Statements the server has sent to its database so far. */
export async function statementsSent(url: string, adminKey: string): Promise<number> {
  return (await serverCounters(url, adminKey)).statements;
}

/**
 * Runs `loop` against the server at `url` and returns what the server spent on each label it
 * recorded: statements and CPU ms (its own process time, so that other load on the machine does
 * not count).
 */
export async function perLabel(
  url: string,
  adminKey: string,
  loop: () => Promise<{ labels: number }>,
): Promise<{ statements: number; cpuMs: number }> {
  const before = await serverCounters(url, adminKey);
  const { labels } = await loop();
  const after = await serverCounters(url, adminKey);
  const n = Math.max(1, labels);
  return {
    statements: (after.statements - before.statements) / n,
    cpuMs: ((after.cpuSeconds - before.cpuSeconds) * 1000) / n,
  };
}

/**
 * Statements and server CPU ms per claim and per submit, one annotator at a time: `n` claims in
 * a row, then their `n` submits, with the cost of reading the counters itself and the
 * background work (job polling) of the same duration taken off.
 */
export async function statementsPerCall<C extends { id: string; token: string }>(
  url: string,
  adminKey: string,
  n: number,
  claim: () => Promise<C>,
  submit: (c: C) => Promise<void>,
): Promise<{
  claim: number;
  submit: number;
  claimCpuMs: number;
  submitCpuMs: number;
  backgroundPerSecond: number;
}> {
  const scrape = () => serverCounters(url, adminKey);
  const a = await scrape();
  const b = await scrape();
  const perScrape = b.statements - a.statements;
  const cpuPerScrape = b.cpuSeconds - a.cpuSeconds;
  await sleep(2000);
  const c = await scrape();
  const backgroundPerMs = Math.max(0, c.statements - b.statements - perScrape) / 2000;
  const cpuPerMs = Math.max(0, c.cpuSeconds - b.cpuSeconds - cpuPerScrape) / 2000;
  let t = performance.now();
  const claims: C[] = [];
  for (let i = 0; i < n; i++) claims.push(await claim());
  const d = await scrape();
  const claimMs = performance.now() - t;
  t = performance.now();
  for (const cl of claims) await submit(cl);
  const e = await scrape();
  const submitMs = performance.now() - t;
  const cpu = (from: number, to: number, ms: number) =>
    ((to - from - cpuPerScrape - cpuPerMs * ms) * 1000) / n;
  return {
    claim: (d.statements - c.statements - perScrape - backgroundPerMs * claimMs) / n,
    submit: (e.statements - d.statements - perScrape - backgroundPerMs * submitMs) / n,
    claimCpuMs: cpu(c.cpuSeconds, d.cpuSeconds, claimMs),
    submitCpuMs: cpu(d.cpuSeconds, e.cpuSeconds, submitMs),
    backgroundPerSecond: backgroundPerMs * 1000,
  };
}

/**
 * An open loop at a person's pace: each of `annotators` starts a claim -> submit every
 * `everyMs` (phases spread at random), whatever the server's answers, for `seconds`; returns each
 * iteration's claim + submit time (ms) and the errors.
 */
export async function openLoop(
  annotators: number,
  everyMs: number,
  seconds: number,
  iteration: (annotator: number) => Promise<void>,
): Promise<{ bothMs: number[]; errors: Map<string, number>; late: number }> {
  const bothMs: number[] = [];
  const errors = new Map<string, number>();
  let late = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const person = async (a: number) => {
    let due = t0 + Math.random() * everyMs;
    for (;;) {
      const wait = due - performance.now();
      if (due >= end) return;
      if (wait > 0) await sleep(wait);
      else late++;
      const t = performance.now();
      try {
        await iteration(a);
        bothMs.push(performance.now() - t);
      } catch (e) {
        const what = (e as { code?: string }).code ?? (e as Error).message;
        errors.set(what, (errors.get(what) ?? 0) + 1);
      }
      due += everyMs;
    }
  };
  await Promise.all(Array.from({ length: annotators }, (_, a) => person(a)));
  return { bothMs, errors, late };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Where a profiled function lives: a package, Node itself, Quarry, or V8's own buckets. */
function placeOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : 'native';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return 'node';
  if (url.includes('/dist/src/')) return 'quarry';
  return 'other';
}

/**
 * The newest `.cpuprofile` in `dir`, summarised: the total sampled time and the top functions
 * and places (packages) by self time, idle excluded, after the first `skipMs` (the start-up).
 */
export function summariseProfile(dir: string, skipMs: number, top = 15): string[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f))
    .sort((x, y) => fs.statSync(y).mtimeMs - fs.statSync(x).mtimeMs);
  if (files.length === 0) return ['(no profile was written)'];
  const profile = JSON.parse(fs.readFileSync(files[0], 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let elapsedUs = 0;
  profile.samples.forEach((id, i) => {
    elapsedUs += profile.timeDeltas[i] ?? 0;
    if (elapsedUs < skipMs * 1000) return;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const fns = new Map<string, number>();
  const places = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const place = placeOf(url, functionName);
    const file = url ? `${path.basename(url)}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${place === 'quarry' ? file : `[${place}] ${file}`}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    places.set(place, (places.get(place) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1)}%`;
  const sorted = (m: Map<string, number>, k: number) =>
    [...m.entries()].sort((x, y) => y[1] - x[1]).slice(0, k);
  return [
    `busy ${(busy / 1e6).toFixed(1)} s of ${((busy + idle) / 1e6).toFixed(1)} s sampled after start-up (percentages of busy time)`,
    `by place: ${sorted(places, 10)
      .map(([p, us]) => `${p} ${pct(us)}`)
      .join(', ')}`,
    ...sorted(fns, top).map(([f, us]) => `${pct(us).padStart(6)}  ${f}`),
  ];
}
