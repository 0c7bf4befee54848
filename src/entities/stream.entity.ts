import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

/**
 * A stream of a dataset: its selective-sampling policy and the policy's state, kept between
 * `streamItems` calls so that a variable threshold adapts over the whole stream.
 */
@Entity({ name: 'stream' })
@Index('uq_stream_name', ['datasetId', 'name'], { unique: true })
export class Stream {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'dataset_id', type: 'uuid' })
  datasetId: string;

  /** The caller's name for the stream (default `default`). */
  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'varchar', length: 100 })
  policy: string;

  /** The policy's parameters, validated, defaults applied. */
  @Column({ type: 'jsonb' })
  params: Record<string, unknown>;

  /** The policy's state after the last item it decided (plain JSON). */
  @Column({ type: 'jsonb' })
  state: Record<string, unknown>;

  /** The open batch that receives this stream's queries. */
  @Column({ name: 'round_id', type: 'uuid', nullable: true })
  roundId: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
