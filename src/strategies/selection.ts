/**
 * How a strategy's output becomes a selection: a pointwise strategy's scores cut to the top rows,
 * a batch strategy's picks checked. Pure (no onnxruntime, no server state), so the inference
 * workers and the in-memory simulation (`src/ml/simulation-engine.ts`) select the same way.
 */
import type { SelectionTeam } from './kernels/team';
import { mulberry32 } from './math';
import type { BatchStrategy, Pick, PointwiseStrategy, ScoredRows } from './types';
import { gatherRows, topRows } from './rows';

/** Longest error message kept from a strategy or onnxruntime (their first line). */
const MAX_MESSAGE_CHARS = 300;

/** A strategy as the selection helpers name it in errors, with its validated parameters. */
export interface StrategyCall {
  code: string;
  params: Record<string, unknown>;
}

/** The rows a pointwise strategy ranks highest, what it scored them, and why. */
export interface TopRows {
  /** Row indices into the scored rows, highest score first (ties: the lower row first). */
  rows: Int32Array;
  scores: Float64Array;
  reasons: Record<string, number>[];
  /** With `returnOutputs`: one row-major `top x classCount` array per model. */
  probabilities?: Float32Array[];
  /** With `returnOutputs` and embeddings in the pool: row-major `top x embeddingDim`. */
  embeddings?: Float32Array;
  embeddingDim?: number;
}

/**
 * Every row's score under a pointwise strategy.
 *
 * @throws Error naming the strategy when it throws or gives NaN for a row
 */
export function scoreRows(
  strategy: PointwiseStrategy,
  call: StrategyCall,
  pool: ScoredRows,
): Float64Array {
  const scores = new Float64Array(pool.rows);
  try {
    strategy.score(pool, call.params, scores);
  } catch (error) {
    throw new Error(`strategy '${call.code}' failed to score: ${firstLine(error)}`);
  }
  const nan = scores.findIndex(Number.isNaN);
  if (nan >= 0) throw new Error(`strategy '${call.code}' gave NaN as the score of row ${nan}`);
  return scores;
}

/**
 * The `keep` rows a pointwise strategy scores highest, in rank order (ties: the lower row
 * first), with their reasons; with `returnOutputs`, also their probabilities and embeddings
 * (the candidates a batch strategy then selects from).
 */
export function scoreTop(
  strategy: PointwiseStrategy,
  call: StrategyCall & { keep: number; returnOutputs?: boolean },
  pool: ScoredRows,
): TopRows {
  const scores = scoreRows(strategy, call, pool);
  const rows = topRows(scores, call.keep);
  let reasons: Record<string, number>[];
  try {
    reasons = Array.from(rows, (row) => strategy.reason(pool, row, call.params));
  } catch (error) {
    throw new Error(`strategy '${call.code}' failed to give a reason: ${firstLine(error)}`);
  }
  const top: TopRows = {
    rows,
    scores: Float64Array.from(rows, (row) => scores[row]),
    reasons,
  };
  if (call.returnOutputs) {
    top.probabilities = pool.probabilities.map((p) => gatherRows(p, pool.classCount, rows));
    if (pool.embeddings && pool.embeddingDim !== undefined) {
      top.embeddings = gatherRows(pool.embeddings, pool.embeddingDim, rows);
      top.embeddingDim = pool.embeddingDim;
    }
  }
  return top;
}

/**
 * Runs a batch strategy's `select` with mulberry32 seeded by `seed` as its `random`, and checks
 * what it returns: `min(size, pool.rows)` distinct picks inside the pool.
 *
 * @throws Error naming the strategy when it throws or breaks that contract
 */
export function selectBatch(
  strategy: BatchStrategy,
  call: StrategyCall,
  task: {
    size: number;
    seed: number;
    pool: ScoredRows;
    labelled?: { rows: number; embeddings: Float32Array };
    /** The threads a strategy that `usesTeam` runs its passes on; see `SelectionContext.team`. */
    team?: SelectionTeam;
  },
): Pick[] {
  const expected = Math.min(task.size, task.pool.rows);
  let picks: Pick[];
  try {
    picks = strategy.select({
      size: task.size,
      params: call.params,
      pool: task.pool,
      labelled: task.labelled,
      random: mulberry32(task.seed),
      team: task.team,
    });
  } catch (error) {
    throw new Error(`strategy '${call.code}' failed to select: ${firstLine(error)}`);
  }
  checkPicks(picks, expected, task.pool.rows, call.code);
  return picks;
}

function checkPicks(picks: unknown, expected: number, rows: number, code: string): void {
  const fail = (what: string): never => {
    throw new Error(`strategy '${code}' returned ${what}`);
  };
  if (!Array.isArray(picks)) fail('something other than an array of picks');
  const list = picks as Pick[];
  if (list.length !== expected) fail(`${list.length} picks, expected ${expected}`);
  const seen = new Set<number>();
  for (const [i, pick] of list.entries()) {
    if (!Number.isInteger(pick?.index) || pick.index < 0 || pick.index >= rows) {
      fail(`pick ${i} with index ${String(pick?.index)}, outside the ${rows} rows`);
    }
    if (seen.has(pick.index)) fail(`row ${pick.index} twice`);
    seen.add(pick.index);
  }
}

/**
 * The first line of an error's message, cut at 300 characters: onnxruntime's and plugins'
 * messages can run to many lines of context; the first says what went wrong.
 */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split('\n', 1)[0].trim();
  return line.length > MAX_MESSAGE_CHARS ? `${line.slice(0, MAX_MESSAGE_CHARS)}...` : line;
}
