import { Column, Entity, PrimaryColumn, type Relation } from 'typeorm';
import { ParentRelation, TimeColumn } from './columns';
import { Round } from './round.entity';

/** Where a shard of a round is: scored by no process yet, done, or failed for good. */
export enum RoundShardStatus {
  PENDING = 'PENDING',
  DONE = 'DONE',
  FAILED = 'FAILED',
}

/**
 * One shard of a sharded round: the pool items with `after_id < id <= last_id` (no upper bound
 * when `last_id` is null), scored by a job any process may run, and what it proposes for the
 * merge. Deleted with its round.
 */
@Entity({ name: 'round_shard' })
export class RoundShard {
  @PrimaryColumn({ name: 'round_id', type: 'uuid' })
  roundId: string;

  @ParentRelation(() => Round, 'round_id')
  round?: Relation<Round>;

  /** 0-based, in id order. */
  @PrimaryColumn({ name: 'shard_index', type: 'integer' })
  shardIndex: number;

  /** The range's lower bound, exclusive (0: from the first item). */
  @Column({ name: 'after_id', type: 'bigint' })
  afterId: string;

  /** The range's upper bound, inclusive; null: no bound (the last shard). */
  @Column({ name: 'last_id', type: 'bigint', nullable: true })
  lastId: string | null;

  @Column({
    type: 'enum',
    enum: RoundShardStatus,
    enumName: 'round_shard_status',
    default: RoundShardStatus.PENDING,
  })
  status: RoundShardStatus;

  /** Times a process started scoring the shard (more than 1 after a crash). */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  /** The process that last started it: `host:pid`. */
  @Column({ type: 'varchar', length: 200, nullable: true })
  runner: string | null;

  /** The proposal: `[{ itemId, score, reason }]`, best first (pointwise) or as picked (batch). */
  @Column({ type: 'jsonb', nullable: true })
  proposal: { itemId: string; score: number; reason: Record<string, number> }[] | null;

  /** Batch strategies: the proposed items' model outputs (see `src/jobs/round-shards.ts`). */
  @Column({ type: 'bytea', nullable: true })
  outputs: Buffer | null;

  /** Why the shard failed, readable by people (the round fails with it). */
  @Column({ type: 'text', nullable: true })
  error: string | null;

  /** Beaten by the process scoring the shard; a stale one is handed to another process. */
  @TimeColumn('heartbeat_at')
  heartbeatAt: Date | null;

  @TimeColumn('finished_at')
  finishedAt: Date | null;
}
