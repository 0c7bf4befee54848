import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  type Relation,
} from 'typeorm';
import { Dataset } from './dataset.entity';
import { TaskKind, TaskStatus } from './enums';

/** A background job of a dataset other than a round: training a model, running a simulation. */
@Entity({ name: 'task' })
@Index('ix_task_dataset', ['datasetId', 'kind', 'createdAt'])
export class Task {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'dataset_id', type: 'uuid' })
  datasetId: string;

  @ManyToOne(() => Dataset, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'dataset_id' })
  dataset?: Relation<Dataset>;

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

  /** The model a training task registered. */
  @Column({ name: 'model_id', type: 'uuid', nullable: true })
  modelId: string | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;
}
