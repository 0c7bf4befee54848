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
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ name: 'dataset_id', type: 'uuid' })
  datasetId: string;

  @Column({ name: 'item_id', type: 'bigint' })
  itemId: string;

  @ManyToOne(() => Item, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'item_id' })
  item?: Relation<Item>;

  /** Index into the dataset's `classes`. */
  @Column({ name: 'class_index', type: 'smallint' })
  classIndex: number;

  /** A {@link LabelSource} value; text so that later sources need no type change. */
  @Column({ type: 'varchar', length: 32 })
  source: string;

  /** The API key that wrote the label. */
  @Column({ name: 'api_key_id', type: 'uuid', nullable: true })
  apiKeyId: string | null;

  /** The person who gave the label, as the labelling tool names them. */
  @Column({ name: 'annotator_id', type: 'varchar', length: 200, nullable: true })
  annotatorId: string | null;

  /** The model version whose prediction this is (source MODEL). */
  @Column({ name: 'model_id', type: 'uuid', nullable: true })
  modelId: string | null;

  @Column({ type: 'real', nullable: true })
  confidence: number | null;

  /** The auto-label run or stream call that wrote this MODEL label (to revoke it as a whole). */
  @Column({ name: 'run_id', type: 'uuid', nullable: true })
  runId: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'superseded_at', type: 'timestamptz', nullable: true })
  supersededAt: Date | null;
}
