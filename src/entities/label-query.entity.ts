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
import { Round } from './round.entity';
import { LabelQueryStatus } from './enums';

/** A request to a human for one item's label, made by a round. */
@Entity({ name: 'label_query' })
@Index('uq_label_query_round_item', ['roundId', 'itemId'], { unique: true })
@Index('ix_label_query_dataset_status', ['datasetId', 'status'])
@Index('ix_label_query_item', ['itemId'])
@Index('ix_label_query_queue', ['datasetId', 'roundId', 'rank'], { where: "status = 'OPEN'" })
export class LabelQuery {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ name: 'dataset_id', type: 'uuid' })
  datasetId: string;

  @Column({ name: 'round_id', type: 'uuid' })
  roundId: string;

  @ManyToOne(() => Round, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'round_id' })
  round?: Relation<Round>;

  @Column({ name: 'item_id', type: 'bigint' })
  itemId: string;

  @ManyToOne(() => Item, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'item_id' })
  item?: Relation<Item>;

  /** 1 is the item the strategy wanted most. */
  @Column({ type: 'integer' })
  rank: number;

  @Column({ type: 'double precision' })
  score: number;

  /** The strategy's reason in numbers, e.g. `{ margin: 0.02, predictedClass: 3 }`. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  reason: Record<string, unknown>;

  @Column({
    type: 'enum',
    enum: LabelQueryStatus,
    enumName: 'label_query_status',
    default: LabelQueryStatus.OPEN,
  })
  status: LabelQueryStatus;

  /** Distinct annotators who must answer (the dataset's annotationsPerItem when it opened). */
  @Column({ name: 'answers_needed', type: 'smallint', default: 1 })
  answersNeeded: number;

  /** The answer the annotators agreed on (the most frequent), once every answer is in. */
  @Column({ name: 'resolved_class', type: 'smallint', nullable: true })
  resolvedClass: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'answered_at', type: 'timestamptz', nullable: true })
  answeredAt: Date | null;
}
