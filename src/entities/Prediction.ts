import {
  Column,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  type Relation,
} from 'typeorm';
import { Item } from './Item';
import { Model } from './Model';

/**
 * A model's latest prediction for an item, kept when a round scores it: the pre-label a
 * labelling tool can show, and what auto-labelling starts from.
 */
@Entity({ name: 'prediction' })
@Index('ix_prediction_model', ['modelId'])
export class Prediction {
  @PrimaryColumn({ name: 'item_id', type: 'bigint' })
  itemId: string;

  @PrimaryColumn({ name: 'model_id', type: 'uuid' })
  modelId: string;

  @ManyToOne(() => Item, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'item_id' })
  item?: Relation<Item>;

  @ManyToOne(() => Model, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'model_id' })
  model?: Relation<Model>;

  /** Index into the dataset's classes. */
  @Column({ name: 'predicted_class', type: 'smallint' })
  predictedClass: number;

  /** The predicted class's probability. */
  @Column({ type: 'real' })
  confidence: number;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;
}
