/**
 * What the benchmarks measure of the limits at the edge (src/http/limits.ts, rate-limit.ts):
 * the environment that turns them all off, and an attack loop that times the answers to a heavy
 * operation while another client's `viewer` queries are timed meanwhile.
 */

/** Every query and rate limit off (each limit's 0). */
export const LIMITS_OFF: NodeJS.ProcessEnv = {
  QUARRY_MAX_QUERY_DEPTH: '0',
  QUARRY_MAX_QUERY_ALIASES: '0',
  QUARRY_MAX_QUERY_TOKENS: '0',
  QUARRY_MAX_QUERY_COST: '0',
  QUARRY_RATE_LIMIT_REQUESTS_PER_SECOND: '0',
  QUARRY_RATE_LIMIT_COST_PER_SECOND: '0',
  QUARRY_AUTH_FAILURES_PER_MINUTE: '0',
};

/** `n` aliases of `items(first: 200)`: the operation that held a server for 8.5 s (issue 11). */
export function aliasAttack(n: number): string {
  const parts = Array.from(
    { length: n },
    (_, i) => `a${i}: items(datasetId: $d, first: 200) { edges { node { id payload } } }`,
  );
  return `query($d: ID!) { ${parts.join(' ')} }`;
}

export interface AttackResult {
  /** Time to each answer of the attack, ms. */
  attackMs: number[];
  /** The attack's answers by error code (`ok` when answered with data). */
  codes: Map<string, number>;
  /** Latency of each `viewer` query sent meanwhile, ms. */
  viewerMs: number[];
}

async function send(
  url: string,
  key: string,
  query: string,
  variables: object,
): Promise<{ ms: number; code: string }> {
  const t = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
  return { ms: performance.now() - t, code: body.errors?.[0]?.extensions?.code ?? 'ok' };
}

/**
 * Sends `query` from `attackers` loops (at most `maxAttacks` in all) for `seconds`, while one
 * client sends `{ viewer { id } }` every 20 ms with `viewerKey`.
 */
export async function underAttack(
  url: string,
  attack: { key: string; query: string; variables: object },
  viewerKey: string,
  opts: { attackers: number; seconds: number; maxAttacks?: number },
): Promise<AttackResult> {
  const out: AttackResult = { attackMs: [], codes: new Map(), viewerMs: [] };
  const end = performance.now() + opts.seconds * 1000;
  let sent = 0;
  let attacking = opts.attackers;
  const attacker = async () => {
    while (performance.now() < end && sent < (opts.maxAttacks ?? Infinity)) {
      sent++;
      const r = await send(url, attack.key, attack.query, attack.variables);
      out.attackMs.push(r.ms);
      out.codes.set(r.code, (out.codes.get(r.code) ?? 0) + 1);
    }
    attacking--;
  };
  // One viewer query every 20 ms: a person's tool, well under any role's request rate.
  const viewer = async () => {
    while (attacking > 0) {
      out.viewerMs.push((await send(url, viewerKey, '{ viewer { id } }', {})).ms);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await Promise.all([...Array.from({ length: opts.attackers }, attacker), viewer()]);
  return out;
}
