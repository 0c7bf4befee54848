import { Column, Entity, Index } from 'typeorm';
import { BigintIdColumn, CreatedAtColumn, UuidRefColumn, BigintRefColumn } from './columns';
import { StreamDecisionKind } from './enums';

/** What stream-based selective sampling decided for one arriving item, and why. */
@Entity({ name: 'stream_decision' })
@Index('ix_stream_decision_dataset', ['datasetId', 'id'])
@Index('ix_stream_decision_stream', ['streamId', 'id'])
export class StreamDecision {
  @BigintIdColumn()
  id: string;

  @UuidRefColumn('dataset_id')
  datasetId: string;

  /** The stream (policy state) the decision belongs to. */
  @UuidRefColumn('stream_id')
  streamId: string;

  @BigintRefColumn('item_id')
  itemId: string;

  @UuidRefColumn('model_id')
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
  @BigintRefColumn('query_id', true)
  queryId: string | null;

  /** The MODEL label given to an AUTO_LABELED item. */
  @BigintRefColumn('label_id', true)
  labelId: string | null;

  @CreatedAtColumn()
  createdAt: Date;
}
