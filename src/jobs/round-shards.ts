/**
 * Sharded rounds: a round's pool cut into id ranges ("shards"), each scored by a job that any
 * process sharing the database may run, and the proposals merged by the process that opens the
 * round. Pointwise strategies merge exactly (each shard keeps its top N, ties to the lower id,
 * so the top N of the union is the top N of the pool); batch strategies merge in two stages
 * (each shard selects N from its range, the strategy selects N again from the union: for
 * k-center the distributed greedy of Malkomes et al. 2015, a 4-approximation of the optimal
 * radius where one process's greedy is a 2-approximation). See {@link SelectionMethod}.
 */
import { RoundShardStatus, SelectionMethod } from '../entities';
import type { Queryable } from '../db/sql/statement';
import { run } from '../db/sql/statement';
import type { FeatureChunk } from '../db/pool-reader';
import type { IdRange } from '../db/sql/pool.sql';
import { poolItemCount } from '../db/sql/pool.sql';
import * as shardsSql from '../db/sql/shards.sql';
import type { Candidate, Chosen } from './round-candidates';

/** A problem that fails the round (a shard that failed for good). */
export class ShardError extends Error {}

/** How a round's pool is cut: `shards` slices of at least `minRows` items each, else none. */
export function shardCount(poolItems: number, shards: number, minRows: number): number {
  return Math.max(1, Math.min(shards, Math.floor(poolItems / Math.max(1, minRows))));
}

/** The selection method a sharded round of a strategy of `kind` uses. */
export function shardedMethod(kind: 'pointwise' | 'batch'): SelectionMethod {
  return kind === 'pointwise' ? SelectionMethod.SHARDED_TOP_N : SelectionMethod.SHARDED_TWO_STAGE;
}

interface ShardRow {
  shardIndex: number;
  afterId: string;
  lastId: string | null;
  status: RoundShardStatus;
  error: string | null;
}

/**
 * The round's shards: the ones recorded already (a retried round carries on with them), else
 * new ones when the pool holds enough items for more than one; none: run in one process.
 */
export async function planShards(
  db: Queryable,
  round: { id: string; datasetId: string; shards: number },
  opts: { minRows: number; kind: 'pointwise' | 'batch' },
): Promise<ShardRow[] | undefined> {
  if (round.shards <= 1) return undefined;
  const existing = await run<ShardRow>(db, shardsSql.roundShards(round.id));
  if (existing.length > 0) return existing;
  const [state] = await run<{ n: number }>(db, poolItemCount(round.datasetId));
  const count = shardCount(Number(state?.n ?? 0), round.shards, opts.minRows);
  if (count <= 1) {
    await run(db, shardsSql.notSharded(round.id));
    return undefined;
  }
  const bounds = await run<{ lastId: string }>(db, shardsSql.shardBounds(round.datasetId, count));
  // The last shard has no upper bound: items imported while the round runs are in it, as they
  // would be in a round run by one process.
  const ranges: IdRange[] = bounds.map((b, k) => ({
    afterId: k === 0 ? '0' : bounds[k - 1].lastId,
    lastId: k === bounds.length - 1 ? null : b.lastId,
  }));
  await run(db, shardsSql.insertShards(round.id, ranges, shardedMethod(opts.kind)));
  return run<ShardRow>(db, shardsSql.roundShards(round.id));
}

/**
 * Waits until every shard is DONE, calling `check` (cancellation, shutdown) between looks;
 * throws a {@link ShardError} as soon as one failed for good. A shard whose process stopped
 * beating for `staleSeconds` (it died) goes to `resend`, for another process to score it, at
 * once rather than when its job expires.
 */
export async function awaitShards(
  db: Queryable,
  roundId: string,
  check: () => Promise<void>,
  intervalMs: number,
  stale: { seconds: number; resend: (shardIndexes: number[]) => Promise<void> },
): Promise<void> {
  let lookedForStale = Date.now();
  for (;;) {
    await check();
    if (Date.now() - lookedForStale >= (stale.seconds * 1000) / 3) {
      lookedForStale = Date.now();
      const freed = await run<{ shardIndex: number }>(
        db,
        shardsSql.freeStaleShards(roundId, stale.seconds),
      );
      if (freed.length > 0) await stale.resend(freed.map((r) => r.shardIndex));
    }
    const rows = await run<ShardRow>(db, shardsSql.roundShards(roundId));
    const failed = rows.find((r) => r.status === RoundShardStatus.FAILED);
    if (failed) {
      throw new ShardError(
        `Shard ${failed.shardIndex + 1} of ${rows.length} failed: ${failed.error}`,
      );
    }
    if (rows.every((r) => r.status === RoundShardStatus.DONE)) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Only the rows of `chunks` within `range` (the feature cache reads the whole pool). */
export async function* withinRange(
  chunks: AsyncGenerator<FeatureChunk>,
  range: IdRange,
): AsyncGenerator<FeatureChunk> {
  const after = BigInt(range.afterId);
  const last = range.lastId === null ? null : BigInt(range.lastId);
  for await (const c of chunks) {
    let from = 0;
    while (from < c.rows && c.ids[from] <= after) from++;
    let to = c.rows;
    if (last !== null) while (to > from && c.ids[to - 1] > last) to--;
    if (from === 0 && to === c.rows) {
      yield c;
      continue;
    }
    if (to <= from) continue;
    yield {
      ids: c.ids.slice(from, to),
      features: c.features.slice(from * c.dim, to * c.dim),
      rows: to - from,
      dim: c.dim,
    };
  }
}

/** One entry of a shard's proposal (ids as text: jsonb has no bigint). */
interface ProposalEntry {
  itemId: string;
  /** Text for a score JSON cannot hold (`Infinity`, `-Infinity`). */
  score: number | string;
  reason: Record<string, number>;
}

/** A shard's proposal as stored: entries, and for batch strategies their outputs. */
export function encodeProposal(chosen: (Chosen | Candidate)[]): {
  proposal: ProposalEntry[];
  outputs: Buffer | null;
} {
  const proposal = chosen.map((c) => ({
    itemId: String(c.itemId),
    // JSON has no Infinity: such scores go as text (Number() reads them back).
    score: Number.isFinite(c.score) ? c.score : String(c.score),
    reason: c.reason,
  }));
  const first = chosen[0] as Candidate | undefined;
  if (!first || !('probabilities' in first)) return { proposal, outputs: null };
  const models = first.probabilities.length;
  const classCount = first.probabilities[0]?.length ?? 0;
  const dim = first.embedding?.length ?? 0;
  const per = models * classCount + dim;
  const out = new Float32Array(4 + chosen.length * per);
  const head = new Int32Array(out.buffer, 0, 4);
  head.set([chosen.length, models, classCount, dim]);
  (chosen as Candidate[]).forEach((c, k) => {
    let at = 4 + k * per;
    for (const p of c.probabilities) {
      out.set(p, at);
      at += classCount;
    }
    if (dim > 0) out.set(c.embedding!, at);
  });
  return { proposal, outputs: Buffer.from(out.buffer) };
}

/** The merged candidates of every shard: entries with their outputs (batch) or without. */
export function decodeProposals(
  rows: { proposal: ProposalEntry[] | null; outputs: Buffer | null }[],
): Candidate[] {
  const all: Candidate[] = [];
  for (const row of rows) {
    const entries = row.proposal ?? [];
    let models = 0;
    let classCount = 0;
    let dim = 0;
    let data: Float32Array | undefined;
    if (row.outputs && row.outputs.length >= 16) {
      const copy = new Uint8Array(row.outputs).buffer;
      [, models, classCount, dim] = new Int32Array(copy, 0, 4);
      data = new Float32Array(copy);
    }
    const per = models * classCount + dim;
    entries.forEach((e, k) => {
      const at = 4 + k * per;
      all.push({
        itemId: BigInt(e.itemId),
        score: typeof e.score === 'number' ? e.score : Number(e.score),
        reason: e.reason ?? {},
        probabilities: data
          ? Array.from({ length: models }, (_, m) =>
              data.slice(at + m * classCount, at + (m + 1) * classCount),
            )
          : [],
        embedding: data && dim > 0 ? data.slice(at + per - dim, at + per) : undefined,
      });
    });
  }
  return all;
}

/** The stored proposals of a round's shards, in shard order. */
export async function shardProposals(db: Queryable, roundId: string): Promise<Candidate[]> {
  return decodeProposals(await run(db, shardsSql.shardProposals(roundId)));
}
