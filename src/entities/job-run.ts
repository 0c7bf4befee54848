import { Column } from 'typeorm';
import { CreatedAtColumn, TimeColumn, UuidRefColumn } from './columns';
import { DatasetOwned } from './dataset-owned';

/**
 * The base of a dataset's rows that a background job runs (rounds and tasks): how often a worker
 * started it, why it failed, who asked for it and when it was created, started and finished.
 */
export abstract class JobRun extends DatasetOwned {
  /** How many times a worker started running it (more than 1 after a crash). */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  /** Why it failed, readable by people. */
  @Column({ type: 'text', nullable: true })
  error: string | null;

  @UuidRefColumn('created_by', true)
  createdBy: string | null;

  @CreatedAtColumn()
  createdAt: Date;

  @TimeColumn('started_at')
  startedAt: Date | null;

  @TimeColumn('finished_at')
  finishedAt: Date | null;
}
