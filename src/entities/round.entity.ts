import { Column, Entity, Index } from 'typeorm';
import { UuidIdColumn, TimeColumn } from './columns';
import { JobRun } from './job-run';
import { RoundStatus, QueryMechanism, SelectionMethod } from './enums';

/** One selection of queries by a strategy over a dataset's pool. */
@Entity({ name: 'round' })
@Index('ix_round_dataset_created', ['datasetId', 'createdAt'])
export class Round extends JobRun {
  @UuidIdColumn()
  id: string;

  /**
   * What made this batch of queries: a pool round chosen by a strategy, or a batch made by
   * stream sampling, an auto-label audit or synthesis (those open at once, without a job).
   */
  @Column({
    type: 'enum',
    enum: QueryMechanism,
    enumName: 'query_mechanism',
    default: QueryMechanism.POOL_ROUND,
  })
  mechanism: QueryMechanism;

  /** The strategy's code, e.g. `margin`. */
  @Column({ type: 'varchar', length: 100 })
  strategy: string;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  params: Record<string, unknown>;

  /** How many queries the round selects. */
  @Column({ type: 'integer' })
  size: number;

  @Column({ name: 'model_ids', type: 'uuid', array: true, default: () => "'{}'" })
  modelIds: string[];

  @Column({
    type: 'enum',
    enum: RoundStatus,
    enumName: 'round_status',
    default: RoundStatus.QUEUED,
  })
  status: RoundStatus;

  /** Seeds every random choice of the round (random strategy, k-means++ seeding). */
  @Column({ type: 'integer', default: 0 })
  seed: number;

  /**
   * Renewed every few seconds while a process runs the round; a retried job takes over only a
   * round whose heartbeat has gone stale (its process died), never one still running elsewhere.
   */
  @TimeColumn('heartbeat_at')
  heartbeatAt: Date | null;

  @Column({ name: 'items_scored', type: 'integer', default: 0 })
  itemsScored: number;

  @Column({ name: 'items_total', type: 'integer', default: 0 })
  itemsTotal: number;

  /** Items of the pool left out because the models' outputs for them were not finite. */
  @Column({ name: 'items_skipped', type: 'integer', default: 0 })
  itemsSkipped: number;

  /** How many shards scored the pool (1: one process); set when scoring starts. */
  @Column({ type: 'integer', default: 1 })
  shards: number;

  /** How the queries were chosen: one process, or shards merged (see {@link SelectionMethod}). */
  @Column({
    name: 'selection_method',
    type: 'enum',
    enum: SelectionMethod,
    enumName: 'selection_method',
    default: SelectionMethod.SINGLE_PROCESS,
  })
  selectionMethod: SelectionMethod;
}
