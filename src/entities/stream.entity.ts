import { Column, Entity, Index } from 'typeorm';
import { UuidIdColumn, CreatedAtColumn, UpdatedAtColumn, UuidRefColumn } from './columns';

/**
 * A stream of a dataset: its selective-sampling policy and the policy's state, kept between
 * `streamItems` calls so that a variable threshold adapts over the whole stream.
 */
@Entity({ name: 'stream' })
@Index('uq_stream_name', ['datasetId', 'name'], { unique: true })
export class Stream {
  @UuidIdColumn()
  id: string;

  @UuidRefColumn('dataset_id')
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
  @UuidRefColumn('round_id', true)
  roundId: string | null;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;
}
