/**
 * What rounds and their shards share: reading a pool (or a shard of it) from the feature cache
 * or the database, scoring it in the inference workers, and a batch strategy's selection.
 */
import type { EntityManager } from 'typeorm';
import type { QuarryConfig } from '../config';
import type { Database } from '../db/database';
import type { Dataset, Round } from '../entities';
import type { FeatureChunk } from '../db/pool-reader';
import { countPool, poolFeaturesCopy, type PoolScope } from '../db/sql/pool.sql';
import * as roundsSql from '../db/sql/rounds.sql';
import { run } from '../db/sql/statement';
import { logger } from '../logger';
import type { EventBus } from '../services/event-bus';
import type { StrategyRegistry } from '../strategies/registry';
import type { Pick } from '../strategies/types';
import type { InferencePool } from '../workers/inference.pool';
import type { ModelRef, ScoreResult, ScoreTask, StrategyRef } from '../workers/inference.types';
import { FeatureCache } from './feature-cache';
import { labelledEmbeddings } from './labelled-embeddings';
import { scoreItems } from './pool-scorer';
import { scoringGate, type PredictionSink } from './prediction-writer';
import {
  allOf,
  candidatesOf,
  toScoredRows,
  topOf,
  TopKeeper,
  type Candidate,
  type Chosen,
} from './round-candidates';
import { withinRange } from './round-shards';

/** A problem that ends a round FAILED with this message for people. */
export class RoundError extends Error {}

/** The round was cancelled (or, for a shard, is no longer scoring): stop, writing nothing. */
export class RoundCancelled extends Error {}

/** Where a round's pool comes from: see {@link RoundRunner.poolSource}. */
export interface PoolSource {
  scope: PoolScope;
  /** The eligible rows' chunks; none: stream `scope` from the database. */
  chunks?: AsyncGenerator<FeatureChunk>;
  /** How many rows the pool holds. */
  total: Promise<number>;
  release(): Promise<void>;
}

/** What scoring a pool (or a shard of it) gave: see `RoundRunner.score`. */
export type Scored =
  | { kind: 'pointwise'; rows: number; chosen: Chosen[] }
  | { kind: 'batch'; rows: number; candidates: Candidate[] };

export abstract class RoundScorer {
  constructor(
    protected readonly db: Database,
    protected readonly config: QuarryConfig,
    protected readonly registry: StrategyRegistry,
    protected readonly inference: InferencePool,
    /** Where round progress and queue changes are published (subscriptions). */
    protected readonly events?: EventBus,
  ) {
    this.featureCache = config.featureCacheDir
      ? new FeatureCache(config.featureCacheDir, db, config.roundChunkRows)
      : undefined;
  }

  /** The feature cache of this process's rounds (auto-label runs read their pool through it). */
  readonly featureCache: FeatureCache | undefined;

  /** Throws when the round may not go on (cancelled, or the process is stopping). */
  protected abstract assertRunning(roundId: string): Promise<void>;

  /** Publishes the round's state; a failure to publish never fails the round. */
  protected async notify(roundId: string, m?: EntityManager): Promise<void> {
    if (!this.events) return;
    if (m) return this.events.publishRound(m, roundId);
    await this.events
      .publishRound(this.db.ds, roundId)
      .catch((err) => logger.warn({ roundId, err }, 'publishing round progress failed'));
  }

  /**
   * The round's pool: from the feature cache when it is on (the vectors from files checked
   * against the database, the eligibility read from the database), else streamed from the
   * database with the eligibility in the statement.
   */
  protected async poolSource(dataset: Dataset, scope: PoolScope): Promise<PoolSource> {
    if (this.featureCache) {
      const read = await this.featureCache.pool(dataset, scope);
      logger.debug({ datasetId: dataset.id, source: read.source }, 'round pool source');
      const range = scope.range;
      return range
        ? { ...read, chunks: withinRange(read.chunks, range), scope }
        : { ...read, scope };
    }
    // Counted while the pool scores (the count costs about a third of reading the pool on
    // PostgreSQL): progress shows the total as soon as it is known.
    const total = run<{ n: number }>(this.db.ds, countPool(scope)).then(([{ n }]) => n);
    total.catch(() => undefined); // awaited after scoring; never left unhandled
    return { scope, total, release: async () => undefined };
  }

  /**
   * Scores `eligible` (the round's pool, or one shard of it): a pointwise strategy's best rows
   * (the round's size and a reserve, best first), or a batch strategy's candidates in item order.
   */
  protected async score(
    round: Round,
    dataset: Dataset,
    eligible: PoolSource,
    models: ModelRef[],
    predictions: PredictionSink,
    check: () => Promise<void>,
  ): Promise<Scored> {
    const registered = this.registry.get(round.strategy);
    const strategy = registered.plugin;
    const params = this.registry.params(round.strategy, round.params);
    const size = round.size;
    const scoring = { predictions, check };
    if (strategy.kind === 'pointwise') {
      // A reserve beyond size refills the places of items labelled or queued elsewhere while
      // this round scored (see open()).
      const keep = size + Math.min(size, 1000);
      const keeper = new TopKeeper<Chosen>(keep);
      const rows = await this.scorePool(round, dataset, eligible, models, {
        ...scoring,
        embeddings: false,
        pointwise: { modulePath: registered.modulePath, code: strategy.code, params, keep },
        onResult: (ids, res) => keeper.add(topOf(ids, res)),
      });
      return { kind: 'pointwise', rows, chosen: keeper.result() };
    }
    const needsEmbeddings = strategy.needs.includes('EMBEDDINGS');
    const narrowing = strategy.candidatePool(params);
    if (narrowing && models.length > 0) {
      const by = this.registry.get(narrowing.strategy);
      // Never fewer candidates than the round asks for, whatever candidatePool says.
      const keep = Math.max(narrowing.size, size);
      const keeper = new TopKeeper<Candidate>(keep);
      const rows = await this.scorePool(round, dataset, eligible, models, {
        ...scoring,
        embeddings: needsEmbeddings,
        pointwise: {
          modulePath: by.modulePath,
          code: by.plugin.code,
          params: this.registry.params(by.plugin.code, {}),
          keep,
          returnOutputs: true,
        },
        onResult: (ids, res) => keeper.add(candidatesOf(ids, res)),
      });
      const candidates = keeper.result().sort((a, b) => (a.itemId < b.itemId ? -1 : 1));
      return { kind: 'batch', rows, candidates };
    }
    const candidates: Candidate[] = [];
    // A candidate costs its outputs plus about 200 bytes of object and array headers.
    const bytesPerRow = (res: ScoreResult) =>
      200 + 4 * (res.classCount * models.length + (res.all?.embeddingDim ?? 0));
    const rows = await this.scorePool(round, dataset, eligible, models, {
      ...scoring,
      embeddings: needsEmbeddings,
      onResult: (ids, res) => {
        if ((candidates.length + ids.length) * bytesPerRow(res) > this.config.maxSelectionBytes) {
          throw new RoundError(
            `The pool is too large for "${strategy.code}" over the whole pool within QUARRY_MAX_SELECTION_BYTES; set params.candidatePool to bound it.`,
          );
        }
        for (const c of allOf(ids, res)) candidates.push(c);
      },
    });
    // Chunks finish scoring out of order; strategies see rows in item-id order (ties, seeds).
    candidates.sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
    return { kind: 'batch', rows, candidates };
  }

  /** Runs a batch strategy over `candidates` (in item order): its picks, best first. */
  protected async batchPick(
    round: Round,
    dataset: Dataset,
    models: ModelRef[],
    candidates: Candidate[],
  ): Promise<Candidate[]> {
    if (candidates.length === 0) return [];
    const registered = this.registry.get(round.strategy);
    const strategy = registered.plugin;
    const params = this.registry.params(round.strategy, round.params);
    const classCount =
      models.length > 0
        ? (candidates[0].probabilities[0]?.length ?? dataset.classes.length)
        : dataset.classes.length;
    const labelled = strategy.needs.includes('EMBEDDINGS')
      ? await labelledEmbeddings(
          { db: this.db, inference: this.inference, chunkRows: this.config.roundChunkRows },
          dataset,
          models[0],
          () => this.assertRunning(round.id),
        )
      : undefined;
    const picks: Pick[] = await this.inference.select({
      strategy: {
        modulePath: registered.modulePath,
        code: strategy.code,
        params,
      } satisfies StrategyRef,
      size: Math.min(round.size, candidates.length),
      seed: round.seed >>> 0,
      pool: toScoredRows(candidates, classCount, models.length),
      labelled,
    });
    return picks.map((p) => ({ ...candidates[p.index], score: p.score, reason: p.reason ?? {} }));
  }

  /** Streams the pool through the inference workers (see {@link scoreItems}), with progress. */
  protected async scorePool(
    round: Round,
    dataset: Dataset,
    pool: PoolSource,
    models: ModelRef[],
    opts: {
      embeddings: boolean;
      pointwise?: ScoreTask['pointwise'];
      onResult: (ids: BigInt64Array, res: ScoreResult) => void;
      /** Where the first model's predictions go (none for the labelled items). */
      predictions?: PredictionSink;
      /** Before each chunk: throws to stop (a cancelled round, a stopping process). */
      check: () => Promise<void>;
    },
  ): Promise<number> {
    // The predictions of rounds opened before this one wait while it scores.
    const leave = scoringGate.enter();
    try {
      return await this.scoreThrough(round, dataset, pool, models, opts);
    } finally {
      leave();
    }
  }

  private scoreThrough(
    round: Round,
    dataset: Dataset,
    pool: PoolSource,
    models: ModelRef[],
    opts: Parameters<RoundScorer['scorePool']>[4],
  ): Promise<number> {
    return scoreItems(
      { db: this.db, config: this.config, inference: this.inference },
      {
        chunks: pool.chunks,
        selectSql: pool.chunks ? undefined : poolFeaturesCopy(pool.scope),
        featureDim: dataset.featureDim,
        models,
        embeddings: opts.embeddings,
        pointwise: opts.pointwise,
        beforeChunk: opts.check,
        onResult: (ids, res) => {
          opts.onResult(ids, res);
          if (models.length > 0) opts.predictions?.add(ids, res.predictedClass, res.confidence);
        },
        afterChunk: async (rows, skipped) => {
          await run(this.db.ds, roundsSql.addItemsScored(round.id, rows, skipped));
          await this.notify(round.id);
        },
      },
    );
  }
}
