import { Column, Entity, Index } from 'typeorm';
import { TimeColumn, UuidIdColumn, UuidRefColumn } from './columns';
import { JobRun } from './job-run';
import { TaskKind, TaskStatus } from './enums';

/** A background job of a dataset other than a round: training a model, running a simulation. */
@Entity({ name: 'task' })
@Index('ix_task_dataset', ['datasetId', 'kind', 'createdAt'])
export class Task extends JobRun {
  @UuidIdColumn()
  id: string;

  @Column({ type: 'enum', enum: TaskKind, enumName: 'task_kind' })
  kind: TaskKind;

  @Column({ type: 'enum', enum: TaskStatus, enumName: 'task_status', default: TaskStatus.QUEUED })
  status: TaskStatus;

  /** What was asked, validated, with defaults applied. */
  @Column({ type: 'jsonb' })
  params: Record<string, unknown>;

  @Column({ name: 'progress_done', type: 'integer', default: 0 })
  progressDone: number;

  @Column({ name: 'progress_total', type: 'integer', nullable: true })
  progressTotal: number | null;

  @Column({ type: 'jsonb', nullable: true })
  result: Record<string, unknown> | null;

  /**
   * Renewed every few seconds while a process runs the task; a retried job takes over only a
   * task whose heartbeat has gone stale (its process died or handed it back), as rounds do.
   */
  @TimeColumn('heartbeat_at')
  heartbeatAt: Date | null;

  /** The model a training task registered. */
  @UuidRefColumn('model_id', true)
  modelId: string | null;
}
