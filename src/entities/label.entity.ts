import { Column, Entity, Index, type Relation } from 'typeorm';
import {
  BigintIdColumn,
  CreatedAtColumn,
  TimeColumn,
  UuidRefColumn,
  BigintRefColumn,
  AnnotatorColumn,
  ParentRelation,
} from './columns';
import { Item } from './item.entity';

/**
 * One label given to one item. A newer label from the same source supersedes the older one,
 * which keeps its row (with `supersededAt` set) as history.
 */
@Entity({ name: 'label' })
@Index('uq_label_current_per_source', ['itemId', 'source'], {
  unique: true,
  where: 'superseded_at IS NULL',
})
@Index('ix_label_dataset_id', ['datasetId', 'id'])
@Index('ix_label_item_id', ['itemId', 'id'])
@Index('ix_label_run', ['runId'], { where: 'run_id IS NOT NULL' })
export class Label {
  @BigintIdColumn()
  id: string;

  @UuidRefColumn('dataset_id')
  datasetId: string;

  @BigintRefColumn('item_id')
  itemId: string;

  @ParentRelation(() => Item, 'item_id')
  item?: Relation<Item>;

  /** Index into the dataset's `classes`. */
  @Column({ name: 'class_index', type: 'smallint' })
  classIndex: number;

  /** A {@link LabelSource} value; text so that later sources need no type change. */
  @Column({ type: 'varchar', length: 32 })
  source: string;

  /** The API key that wrote the label. */
  @UuidRefColumn('api_key_id', true)
  apiKeyId: string | null;

  /** The person who gave the label, as the labelling tool names them. */
  @AnnotatorColumn(true)
  annotatorId: string | null;

  /** The model version whose prediction this is (source MODEL). */
  @UuidRefColumn('model_id', true)
  modelId: string | null;

  @Column({ type: 'real', nullable: true })
  confidence: number | null;

  /** The auto-label run or stream call that wrote this MODEL label (to revoke it as a whole). */
  @UuidRefColumn('run_id', true)
  runId: string | null;

  @CreatedAtColumn()
  createdAt: Date;

  @TimeColumn('superseded_at')
  supersededAt: Date | null;
}
