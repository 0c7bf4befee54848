/**
 * What a round selects from: the chosen items and the candidates of batch strategies, built from
 * the inference workers' results, and the top-N keeper of pointwise strategies.
 */
import type { ScoreResult } from '../workers/inference.types';
import type { ScoredRows } from '../strategies/types';

/** One selected item, before it becomes a LabelQuery. */
export interface Chosen {
  itemId: bigint;
  score: number;
  reason: Record<string, number>;
}

/** A candidate a batch strategy selects from: its item and its inference outputs. */
export interface Candidate extends Chosen {
  probabilities: Float32Array[];
  embedding?: Float32Array;
}

/** Higher score first; equal scores: the lower item id first (the documented tie-break). */
export function byRank(a: Chosen, b: Chosen): number {
  if (a.score !== b.score) return b.score > a.score ? 1 : -1;
  return a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0;
}

/** Keeps the best `keep` entries seen, trimming in batches (cheap for many small inserts). */
export class TopKeeper<T extends Chosen> {
  private entries: T[] = [];
  constructor(private readonly keep: number) {}
  add(items: T[]): void {
    for (const e of items) this.entries.push(e);
    if (this.entries.length > 4 * this.keep + 1024) this.trim();
  }
  private trim(): void {
    this.entries.sort(byRank);
    this.entries.length = Math.min(this.entries.length, this.keep);
  }
  result(): T[] {
    this.trim();
    return this.entries;
  }
}

export function topOf(ids: BigInt64Array, res: ScoreResult): Chosen[] {
  const top = res.top;
  if (!top) return [];
  return Array.from(top.rows, (row, k) => ({
    itemId: ids[row],
    score: top.scores[k],
    reason: top.reasons[k],
  }));
}

export function candidatesOf(ids: BigInt64Array, res: ScoreResult): Candidate[] {
  const top = res.top;
  if (!top) return [];
  const c = res.classCount;
  const e = top.embeddingDim ?? 0;
  return Array.from(top.rows, (row, k) => ({
    itemId: ids[row],
    score: top.scores[k],
    reason: top.reasons[k],
    probabilities: (top.probabilities ?? []).map((p) => p.slice(k * c, (k + 1) * c)),
    embedding: top.embeddings ? top.embeddings.slice(k * e, (k + 1) * e) : undefined,
  }));
}

export function allOf(ids: BigInt64Array, res: ScoreResult): Candidate[] {
  const all = res.all;
  const c = res.classCount;
  const e = all?.embeddingDim ?? 0;
  return Array.from(ids, (itemId, row) => ({
    itemId,
    score: 0,
    reason: {},
    probabilities: (all?.probabilities ?? []).map((p) => p.slice(row * c, (row + 1) * c)),
    embedding: all?.embeddings ? all.embeddings.slice(row * e, (row + 1) * e) : undefined,
  }));
}

/** Packs candidates (in item-id order) into the row-major arrays a strategy selects from. */
export function toScoredRows(
  candidates: Candidate[],
  classCount: number,
  modelCount: number,
): ScoredRows {
  const rows = candidates.length;
  const probabilities = Array.from({ length: modelCount }, (_, m) => {
    const out = new Float32Array(rows * classCount);
    candidates.forEach((cand, r) => out.set(cand.probabilities[m], r * classCount));
    return out;
  });
  const dim = candidates[0]?.embedding?.length ?? 0;
  let embeddings: Float32Array | undefined;
  if (dim > 0) {
    embeddings = new Float32Array(rows * dim);
    candidates.forEach((cand, r) => embeddings!.set(cand.embedding!, r * dim));
  }
  return { rows, classCount, probabilities, embeddings, embeddingDim: dim || undefined };
}
