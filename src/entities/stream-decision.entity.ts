import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { StreamDecisionKind } from './enums';

/** What stream-based selective sampling decided for one arriving item, and why. */
@Entity({ name: 'stream_decision' })
@Index('ix_stream_decision_dataset', ['datasetId', 'id'])
@Index('ix_stream_decision_stream', ['streamId', 'id'])
export class StreamDecision {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ name: 'dataset_id', type: 'uuid' })
  datasetId: string;

  /** The stream (policy state) the decision belongs to. */
  @Column({ name: 'stream_id', type: 'uuid' })
  streamId: string;

  @Column({ name: 'item_id', type: 'bigint' })
  itemId: string;

  @Column({ name: 'model_id', type: 'uuid' })
  modelId: string;

  @Column({
    type: 'enum',
    enum: StreamDecisionKind,
    enumName: 'stream_decision_kind',
  })
  decision: StreamDecisionKind;

  /** The model's top-class probability for the item. */
  @Column({ type: 'real' })
  score: number;

  /** The policy's threshold when it decided. */
  @Column({ type: 'real' })
  threshold: number;

  @Column({ name: 'predicted_class', type: 'smallint' })
  predictedClass: number;

  /** The query made for a QUERIED item. */
  @Column({ name: 'query_id', type: 'bigint', nullable: true })
  queryId: string | null;

  /** The MODEL label given to an AUTO_LABELED item. */
  @Column({ name: 'label_id', type: 'bigint', nullable: true })
  labelId: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
