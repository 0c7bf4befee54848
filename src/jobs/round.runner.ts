import type { EntityManager } from 'typeorm';
import type { QuarryConfig } from '../config';
import type { Database } from '../db/database';
import { Dataset, Round, RoundStatus } from '../entities';
import type { InferencePool } from '../workers/inference.pool';
import { streamFeatures, type FeatureChunk } from '../db/pool-reader';
import { FeatureCache } from './feature-cache';
import type { ModelRef, ScoreResult, ScoreTask, StrategyRef } from '../workers/inference.types';
import { logger } from '../logger';
import { roundDuration, roundsFinished } from '../metrics';
import { returnedRows } from '../db/db-errors';
import type { EventBus } from '../services/event-bus';
import { lockBudget } from '../services/budget';
import { writeQueries } from '../services/round-lifecycle';
import {
  countPool,
  labelledFeaturesCopy,
  poolFeaturesCopy,
  stillEligible,
  type PoolScope,
} from '../db/sql/pool.sql';
import * as roundsSql from '../db/sql/rounds.sql';
import { run } from '../db/sql/statement';
import { scoreItems } from './pool-scorer';
import type { StrategyRegistry } from '../strategies/registry';
import type { Pick } from '../strategies/types';
import { modelRefs } from './model-files';
import { PredictionSink } from './prediction-writer';
import { RunningJobs } from './running-jobs';
import {
  allOf,
  candidatesOf,
  toScoredRows,
  topOf,
  TopKeeper,
  type Candidate,
  type Chosen,
} from './round-candidates';

/** A problem that ends a round FAILED with this message for people. */
export class RoundError extends Error {}

class RoundCancelled extends Error {}

/** The process is stopping: the round is left as it is, for its job to be retried. */
class RoundInterrupted extends Error {}

/** Where a round's pool comes from: see {@link RoundRunner.poolSource}. */
interface PoolSource {
  scope: PoolScope;
  /** The eligible rows' chunks; none: stream `scope` from the database. */
  chunks?: AsyncGenerator<FeatureChunk>;
  /** How many rows the pool holds. */
  total: Promise<number>;
  release(): Promise<void>;
}

/** Counts a round job that ended in this process, and how long it ran. */
function observeRound(status: string, startedMs: number): void {
  roundsFinished.inc({ status });
  roundDuration.observe({ status }, (Date.now() - startedMs) / 1000);
}

/**
 * Runs a round: streams its pool out of the database in chunks, scores them with the round's
 * models in the inference workers, lets the strategy select, and writes the queries and the
 * round's OPEN status in one transaction. Safe to run twice for the same round (a retried job):
 * only one run can turn it OPEN.
 */
export class RoundRunner {
  constructor(
    private readonly db: Database,
    private readonly config: QuarryConfig,
    private readonly registry: StrategyRegistry,
    private readonly inference: InferencePool,
    /** Asks for the round to be looked at again later (it was running in another process). */
    private readonly recheckLater: (
      roundId: string,
      afterSeconds: number,
    ) => Promise<void> = async () => undefined,
    /** Where round progress and queue changes are published (subscriptions). */
    private readonly events?: EventBus,
  ) {
    this.featureCache = config.featureCacheDir
      ? new FeatureCache(config.featureCacheDir, db, config.roundChunkRows)
      : undefined;
  }

  private readonly featureCache: FeatureCache | undefined;

  /** Publishes the round's state; a failure to publish never fails the round. */
  private async notify(roundId: string, m?: EntityManager): Promise<void> {
    if (!this.events) return;
    if (m) return this.events.publishRound(m, roundId);
    await this.events
      .publishRound(this.db.ds, roundId)
      .catch((err) => logger.warn({ roundId, err }, 'publishing round progress failed'));
  }

  /**
   * A heartbeat older than this means the process running the round died. Below the job expiry
   * (a retried job must find it stale) and well above the beat interval.
   */
  private get staleSeconds(): number {
    return Math.max(1, Math.min(30, Math.floor(this.config.roundJobExpireSeconds / 2)));
  }

  private readonly running = new RunningJobs(
    'round',
    () => new RoundInterrupted('this process is stopping'),
  );
  /** When each phase of the last round ended, in ms from its start (logged; for tuning). */
  private phases: Record<string, number> = {};
  private phaseStart = 0;
  private mark(phase: string): void {
    this.phases[phase] = Date.now() - this.phaseStart;
  }

  /**
   * Hands every running round back at once (shutdown): QUEUED again for any process to take,
   * its job failed now for pg-boss to retry within seconds (not at its expiry). What this
   * process still computes for it writes nothing more (each write checks first; opening a round
   * twice is harmless anyway).
   */
  interrupt(): Promise<void> {
    return this.running.interrupt((roundId) => run(this.db.ds, roundsSql.handBackRound(roundId)));
  }

  private readonly storing = new Set<Promise<void>>();

  /** Waits for the predictions of finished rounds to be stored (shutdown, after interrupt()). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.storing]);
  }

  /** Ends a round whose job failed too often (its processes kept dying or stopping). */
  async giveUp(roundId: string): Promise<void> {
    await run(this.db.ds, roundsSql.giveUpRound(roundId));
    await this.notify(roundId);
  }

  async run(roundId: string): Promise<void> {
    this.running.check();
    const ds = this.db.ds;
    // Take the round if it waits, or if the process that ran it stopped beating (it died).
    const rows = returnedRows(await run(ds, roundsSql.takeRound(roundId, this.staleSeconds)));
    if (rows.length === 0) {
      const [row] = await run<{ status: RoundStatus }>(ds, roundsSql.roundStatus(roundId));
      // Still running elsewhere: look again once its heartbeat could have gone stale.
      if (row && [RoundStatus.SCORING, RoundStatus.SELECTING].includes(row.status)) {
        await this.recheckLater(roundId, this.staleSeconds + 1);
      }
      return;
    }
    await this.notify(roundId);
    const round = await ds.getRepository(Round).findOneByOrFail({ id: roundId });
    const started = Date.now();
    this.phaseStart = started;
    this.phases = {};
    const predictions = new PredictionSink(this.db, round.modelIds[0] ?? '', (err) =>
      logger.warn(
        { roundId, err },
        'storing predictions failed; they are re-made by the next round',
      ),
    );
    try {
      await this.running.run(
        roundId,
        () => run(ds, roundsSql.beatRound(roundId)),
        Math.max(200, (this.staleSeconds * 1000) / 3),
        () => this.execute(round, predictions),
      );
      logger.info(
        { roundId, strategy: round.strategy, ms: Date.now() - started, phasesMs: this.phases },
        'round is open',
      );
      observeRound('OPEN', started);
    } catch (e) {
      if (e instanceof RoundInterrupted || this.running.interrupted) throw e;
      if (e instanceof RoundCancelled) {
        logger.info({ roundId }, 'round cancelled while running');
        observeRound('CANCELLED', started);
        return;
      }
      const [now] = await run(ds, roundsSql.roundStatus(roundId));
      const phase = now?.status === RoundStatus.SELECTING ? 'selecting' : 'scoring';
      const message =
        e instanceof RoundError
          ? e.message
          : `The round failed while ${phase}: ${(e as Error).message ?? String(e)}`;
      logger.warn({ roundId, err: e }, 'round failed');
      await run(ds, roundsSql.failRound(roundId, message.slice(0, 2000)));
      await this.notify(roundId);
      observeRound('FAILED', started);
    } finally {
      // The round is already open (or over): its predictions are stored in the background, so
      // that the next round's job does not wait for them (they took seconds on 1M items, first
      // round of a model); a stopping process waits for them in settle().
      const storing = predictions.flush();
      this.storing.add(storing);
      void storing.finally(() => this.storing.delete(storing));
    }
  }

  private async execute(round: Round, predictions: PredictionSink): Promise<void> {
    const ds = this.db.ds;
    const dataset = await ds.getRepository(Dataset).findOneByOrFail({ id: round.datasetId });
    const models = await modelRefs(ds, round.modelIds, this.config.modelCacheDir);
    const eligible = await this.poolSource(dataset, roundPool(round));
    try {
      await this.select(round, dataset, eligible, models, predictions);
    } finally {
      await eligible.release();
    }
  }

  /**
   * The round's pool: from the feature cache when it is on (the vectors from files checked
   * against the database, the eligibility read from the database), else streamed from the
   * database with the eligibility in the statement.
   */
  private async poolSource(dataset: Dataset, scope: PoolScope): Promise<PoolSource> {
    if (this.featureCache) {
      const read = await this.featureCache.pool(dataset, scope);
      logger.debug({ datasetId: dataset.id, source: read.source }, 'round pool source');
      return { ...read, scope };
    }
    // Counted while the pool scores (the count costs about a third of reading the pool on
    // PostgreSQL): progress shows the total as soon as it is known.
    const total = run<{ n: number }>(this.db.ds, countPool(scope)).then(([{ n }]) => n);
    total.catch(() => undefined); // awaited after scoring; never left unhandled
    return { scope, total, release: async () => undefined };
  }

  private async select(
    round: Round,
    dataset: Dataset,
    eligible: PoolSource,
    models: ModelRef[],
    predictions: PredictionSink,
  ): Promise<void> {
    const ds = this.db.ds;
    const registered = this.registry.get(round.strategy);
    const strategy = registered.plugin;
    const params = this.registry.params(round.strategy, round.params);
    const counting = eligible.total.then(async (n) => {
      await run(ds, roundsSql.setItemsTotal(round.id, n));
      await this.notify(round.id);
      return n;
    });
    counting.catch(() => undefined); // awaited after scoring; never left unhandled
    const size = round.size;
    let chosen: Chosen[];
    if (strategy.kind === 'pointwise') {
      // A reserve beyond size refills the places of items labelled or queued elsewhere while
      // this round scored (see open()).
      const keep = size + Math.min(size, 1000);
      const keeper = new TopKeeper<Chosen>(keep);
      const scored1 = await this.scorePool(round, dataset, eligible, models, {
        predictions,
        embeddings: false,
        pointwise: { modulePath: registered.modulePath, code: strategy.code, params, keep },
        onResult: (ids, res) => keeper.add(topOf(ids, res)),
      });
      await this.requirePool(scored1, counting);
      this.mark('scored');
      chosen = keeper.result();
      await this.selecting(round.id);
    } else {
      const needsEmbeddings = strategy.needs.includes('EMBEDDINGS');
      const narrowing = strategy.candidatePool(params);
      let candidates: Candidate[];
      let classCount = dataset.classes.length;
      if (narrowing && models.length > 0) {
        const by = this.registry.get(narrowing.strategy);
        // Never fewer candidates than the round asks for, whatever candidatePool says.
        const keep = Math.max(narrowing.size, size);
        const keeper = new TopKeeper<Candidate>(keep);
        const scored2 = await this.scorePool(round, dataset, eligible, models, {
          predictions,
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
        await this.requirePool(scored2, counting);
        candidates = keeper.result().sort((a, b) => (a.itemId < b.itemId ? -1 : 1));
      } else {
        candidates = [];
        // A candidate costs its outputs plus about 200 bytes of object and array headers.
        const bytesPerRow = (res: ScoreResult) =>
          200 + 4 * (res.classCount * models.length + (res.all?.embeddingDim ?? 0));
        const scored3 = await this.scorePool(round, dataset, eligible, models, {
          predictions,
          embeddings: needsEmbeddings,
          onResult: (ids, res) => {
            if (
              (candidates.length + ids.length) * bytesPerRow(res) >
              this.config.maxSelectionBytes
            ) {
              throw new RoundError(
                `The pool is too large for "${strategy.code}" over the whole pool within QUARRY_MAX_SELECTION_BYTES; set params.candidatePool to bound it.`,
              );
            }
            for (const c of allOf(ids, res)) candidates.push(c);
          },
        });
        await this.requirePool(scored3, counting);
        // Chunks finish scoring out of order; strategies see rows in item-id order (ties, seeds).
        candidates.sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
      }
      if (models.length > 0 && candidates.length > 0)
        classCount = candidates[0].probabilities[0]?.length ?? classCount;
      const labelled = needsEmbeddings
        ? await this.labelledEmbeddings(round, dataset, models[0])
        : undefined;
      this.mark('scored');
      await this.selecting(round.id);
      const pool = toScoredRows(candidates, classCount, models.length);
      const picks: Pick[] = await this.inference.select({
        strategy: {
          modulePath: registered.modulePath,
          code: strategy.code,
          params,
        } satisfies StrategyRef,
        size: Math.min(size, candidates.length),
        seed: round.seed >>> 0,
        pool,
        labelled,
      });
      chosen = picks.map((p) => ({
        itemId: candidates[p.index].itemId,
        score: p.score,
        reason: p.reason,
      }));
    }
    this.mark('selected');
    await this.open(round, chosen);
    this.mark('opened');
  }

  /** Streams the pool through the inference workers (see {@link scoreItems}), with progress. */
  private async scorePool(
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
    },
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
        beforeChunk: () => this.assertRunning(round.id),
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

  /** Waits for the pool's count and refuses an empty pool. */
  private async requirePool(scored: number, counting: Promise<number>): Promise<void> {
    const total = await counting;
    if (scored === 0 || total === 0) {
      throw new RoundError(
        'The pool is empty: every POOL item of the dataset is labelled or queued in another open round.',
      );
    }
  }

  /** The embeddings of the dataset's labelled POOL items: k-center's initial centres. */
  private async labelledEmbeddings(
    round: Round,
    dataset: Dataset,
    model: ModelRef | undefined,
  ): Promise<{ rows: number; embeddings: Float32Array } | undefined> {
    if (!model) return undefined;
    const parts: Float32Array[] = [];
    let rows = 0;
    // In item order, one chunk at a time: the strategy's seeds depend on the centres' order.
    for await (const chunk of streamFeatures(this.db, {
      selectSql: labelledFeaturesCopy(dataset.id, 'POOL', 'any'),
      featureDim: dataset.featureDim,
      chunkRows: this.config.roundChunkRows,
    })) {
      await this.assertRunning(round.id);
      const res = await this.inference.score({
        models: [model],
        features: chunk.features,
        rows: chunk.rows,
        dim: chunk.dim,
        embeddings: true,
      });
      // Items whose embedding is not finite are left out (res.rows counts the rest).
      if (res.all?.embeddings) parts.push(res.all.embeddings);
      rows += res.rows;
    }
    if (rows === 0) return undefined;
    const embeddings = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      embeddings.set(p, at);
      at += p.length;
    }
    return { rows, embeddings };
  }

  private async assertRunning(roundId: string): Promise<void> {
    this.running.check();
    const [row] = await run(this.db.ds, roundsSql.roundStatus(roundId));
    if (!row || row.status === RoundStatus.CANCELLED) throw new RoundCancelled();
  }

  private async selecting(roundId: string): Promise<void> {
    this.running.check();
    const rows = returnedRows(await run(this.db.ds, roundsSql.markSelecting(roundId)));
    if (rows.length === 0) throw new RoundCancelled();
    await this.notify(roundId);
  }

  /** Writes the queries and opens the round, in one transaction; a second runner finds it done. */
  private async open(round: Round, candidates: Chosen[]): Promise<void> {
    this.running.check();
    await this.db.ds.transaction(async (m) => {
      const [row] = await run(m, roundsSql.lockRoundStatus(round.id));
      if (row?.status !== RoundStatus.SELECTING) throw new RoundCancelled();
      // Opens of one dataset's rounds take turns (the budget lock; the round's units were
      // reserved when it started), and each checks the pool again: an item labelled, or queued
      // by another round, while this one scored is passed over.
      const budget = await lockBudget(m, round.datasetId);
      const still: { id: string }[] = await run(
        m,
        stillEligible(
          candidates.map((c) => String(c.itemId)),
          roundPool(round),
        ),
      );
      const available = new Set(still.map((r) => r.id));
      const chosen = candidates.filter((c) => available.has(String(c.itemId))).slice(0, round.size);
      await run(m, roundsSql.markRoundOpen(round.id));
      await this.notify(round.id, m);
      await writeQueries(m, this.events, {
        datasetId: round.datasetId,
        roundId: round.id,
        answersNeeded: budget.annotationsPerItem,
        queries: chosen.map((c) => ({
          itemId: String(c.itemId),
          score: c.score,
          reason: c.reason ?? {},
        })),
      });
    });
  }
}

/** The items a pool round may pick (its own queries, from a retried open, do not count). */
function roundPool(round: Round): PoolScope {
  return { datasetId: round.datasetId, labels: 'any', roundId: round.id };
}
