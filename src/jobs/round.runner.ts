import os from 'node:os';
import type { QuarryConfig } from '../config';
import type { Database } from '../db/database';
import { Dataset, Round, RoundStatus } from '../entities';
import type { InferencePool } from '../workers/inference.pool';
import type { ModelRef } from '../workers/inference.types';
import { logger } from '../logger';
import { roundDuration, roundsFinished } from '../metrics';
import { returnedRows } from '../db/db-errors';
import type { EventBus } from '../services/event-bus';
import { lockBudget } from '../services/budget';
import { writeQueries } from '../services/round-lifecycle';
import { countPool, stillEligible, type IdRange, type PoolScope } from '../db/sql/pool.sql';
import * as roundsSql from '../db/sql/rounds.sql';
import * as shardsSql from '../db/sql/shards.sql';
import { run } from '../db/sql/statement';
import type { StrategyRegistry } from '../strategies/registry';
import { modelRefs } from './model-files';
import { PredictionSink } from './prediction-writer';
import { RunningJobs } from './running-jobs';
import { TopKeeper, type Chosen } from './round-candidates';
import {
  awaitShards,
  encodeProposal,
  planShards,
  shardProposals,
  ShardError,
} from './round-shards';
import {
  RoundCancelled,
  RoundError,
  RoundScorer,
  type PoolSource,
  type Scored,
} from './round-scorer';

export { RoundError } from './round-scorer';

/** The process is stopping: the round is left as it is, for its job to be retried. */
class RoundInterrupted extends Error {}

/** This process, as a shard's `runner` names it. */
const RUNNER = `${os.hostname()}:${process.pid}`;

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
export class RoundRunner extends RoundScorer {
  constructor(
    db: Database,
    config: QuarryConfig,
    registry: StrategyRegistry,
    inference: InferencePool,
    /** Asks for the round to be looked at again later (it was running in another process). */
    private readonly recheckLater: (
      roundId: string,
      afterSeconds: number,
    ) => Promise<void> = async () => undefined,
    /** Where round progress and queue changes are published (subscriptions). */
    events?: EventBus,
    /** Enqueues shards of a round for any process to score; none: rounds are never sharded. */
    private readonly shardJobs?: (roundId: string, shardIndexes: number[]) => Promise<void>,
  ) {
    super(db, config, registry, inference, events);
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
  async interrupt(): Promise<void> {
    // A shard is left PENDING: its job fails now and is retried by another process.
    await this.shardsRunning.interrupt(async () => undefined);
    await this.running.interrupt((roundId) => run(this.db.ds, roundsSql.handBackRound(roundId)));
  }

  /** The shards this process scores now (see {@link runShard}). */
  private readonly shardsRunning = new RunningJobs(
    'round shard',
    () => new RoundInterrupted('this process is stopping'),
  );

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
    const shards = this.shardJobs
      ? await planShards(ds, round, {
          minRows: this.config.roundShardMinRows,
          kind: this.registry.get(round.strategy).plugin.kind,
        })
      : undefined;
    if (shards) return this.merge(round, dataset, models, shards);
    const eligible = await this.poolSource(dataset, roundPool(round));
    try {
      await this.select(round, dataset, eligible, models, predictions);
    } finally {
      await eligible.release();
    }
  }

  private async select(
    round: Round,
    dataset: Dataset,
    eligible: PoolSource,
    models: ModelRef[],
    predictions: PredictionSink,
  ): Promise<void> {
    const counting = eligible.total.then(async (n) => {
      await run(this.db.ds, roundsSql.setItemsTotal(round.id, n));
      await this.notify(round.id);
      return n;
    });
    counting.catch(() => undefined); // awaited after scoring; never left unhandled
    const scored = await this.score(round, dataset, eligible, models, predictions, () =>
      this.assertRunning(round.id),
    );
    await this.requirePool(scored.rows, counting);
    await this.finish(round, dataset, models, scored);
  }

  /** Selects (batch strategies) and opens the round with what scoring the pool gave. */
  private async finish(
    round: Round,
    dataset: Dataset,
    models: ModelRef[],
    scored: Scored,
  ): Promise<void> {
    this.mark('scored');
    await this.selecting(round.id);
    const chosen =
      scored.kind === 'pointwise'
        ? scored.chosen
        : await this.batchPick(round, dataset, models, scored.candidates);
    this.mark('selected');
    await this.open(round, chosen);
    this.mark('opened');
  }

  /**
   * A sharded round: its shards are scored as jobs by any process (this one too), then merged
   * here: the top of their union (pointwise), or the strategy over their union (batch).
   */
  private async merge(
    round: Round,
    dataset: Dataset,
    models: ModelRef[],
    shards: { shardIndex: number; status: string }[],
  ): Promise<void> {
    const ds = this.db.ds;
    const counting = run<{ n: number }>(ds, countPool(roundPool(round))).then(async ([{ n }]) => {
      await run(ds, roundsSql.setItemsTotal(round.id, n));
      await this.notify(round.id);
      return n;
    });
    counting.catch(() => undefined);
    const pending = shards.filter((s) => s.status === 'PENDING').map((s) => s.shardIndex);
    if (pending.length > 0) await this.shardJobs!(round.id, pending);
    try {
      await awaitShards(ds, round.id, () => this.assertRunning(round.id), 200, {
        seconds: this.staleSeconds,
        resend: async (indexes) => {
          logger.warn(
            { roundId: round.id, shards: indexes },
            'round shards whose process stopped beating are sent again',
          );
          await this.shardJobs!(round.id, indexes);
        },
      });
    } catch (e) {
      if (e instanceof ShardError) throw new RoundError(e.message);
      throw e;
    }
    const union = await shardProposals(ds, round.id);
    await this.requirePool(union.length, counting);
    if (this.registry.get(round.strategy).plugin.kind === 'pointwise') {
      const keeper = new TopKeeper<Chosen>(round.size + Math.min(round.size, 1000));
      keeper.add(union);
      return this.finish(round, dataset, models, {
        kind: 'pointwise',
        rows: 0,
        chosen: keeper.result(),
      });
    }
    union.sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
    return this.finish(round, dataset, models, { kind: 'batch', rows: 0, candidates: union });
  }

  /**
   * Scores one shard of a round (a job any process may run) and stores its proposal. Nothing
   * happens for a shard already done, or a round no longer scoring; a shard that cannot be
   * scored fails (and its round with it); a stopping process hands the job back for a retry.
   */
  async runShard(roundId: string, shardIndex: number): Promise<void> {
    this.shardsRunning.check();
    const ds = this.db.ds;
    const round = await ds.getRepository(Round).findOneBy({ id: roundId });
    if (!round || round.status !== RoundStatus.SCORING) return;
    const [range] = returnedRows<IdRange>(
      await run<IdRange>(ds, shardsSql.startShard(roundId, shardIndex, RUNNER)),
    );
    if (!range) return;
    const started = Date.now();
    const dataset = await ds.getRepository(Dataset).findOneByOrFail({ id: round.datasetId });
    const predictions = new PredictionSink(this.db, round.modelIds[0] ?? '', (err) =>
      logger.warn(
        { roundId, err },
        'storing predictions failed; they are re-made by the next round',
      ),
    );
    const check = async () => {
      this.shardsRunning.check();
      const [row] = await run(ds, roundsSql.roundStatus(roundId));
      if (row?.status !== RoundStatus.SCORING) throw new RoundCancelled();
    };
    try {
      const proposal = await this.shardsRunning.run(
        `${roundId}/${shardIndex}`,
        () => run(ds, shardsSql.beatShard(roundId, shardIndex, RUNNER)),
        Math.max(200, (this.staleSeconds * 1000) / 3),
        async () => {
          const models = await modelRefs(ds, round.modelIds, this.config.modelCacheDir);
          const scope = { ...roundPool(round), range };
          const source = await this.poolSource(dataset, scope);
          try {
            const scored = await this.score(round, dataset, source, models, predictions, check);
            return scored.kind === 'pointwise'
              ? scored.chosen
              : await this.batchPick(round, dataset, models, scored.candidates);
          } finally {
            await source.release();
          }
        },
      );
      const { proposal: entries, outputs } = encodeProposal(proposal);
      await run(ds, shardsSql.finishShard(roundId, shardIndex, entries, outputs));
      logger.info({ roundId, shardIndex, ms: Date.now() - started }, 'round shard scored');
    } catch (e) {
      if (e instanceof RoundInterrupted || this.shardsRunning.interrupted) throw e;
      if (e instanceof RoundCancelled) return;
      const message = e instanceof RoundError ? e.message : ((e as Error).message ?? String(e));
      logger.warn({ roundId, shardIndex, err: e }, 'round shard failed');
      await run(ds, shardsSql.failShard(roundId, shardIndex, message.slice(0, 2000)));
    } finally {
      await predictions.flush();
    }
  }

  /** Fails a shard whose job failed too often (its processes kept dying or stopping). */
  async giveUpShard(roundId: string, shardIndex: number): Promise<void> {
    await run(
      this.db.ds,
      shardsSql.failShard(roundId, shardIndex, 'the processes scoring this shard kept stopping'),
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

  protected override async assertRunning(roundId: string): Promise<void> {
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
