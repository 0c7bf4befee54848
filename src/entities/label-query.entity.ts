import { Column, Entity, Index, type Relation } from 'typeorm';
import {
  BigintIdColumn,
  CreatedAtColumn,
  TimeColumn,
  UuidRefColumn,
  BigintRefColumn,
  ParentRelation,
} from './columns';
import { Item } from './item.entity';
import { Round } from './round.entity';
import { LabelQueryStatus } from './enums';

/** A request to a human for one item's label, made by a round. */
@Entity({ name: 'label_query' })
@Index('uq_label_query_round_item', ['roundId', 'itemId'], { unique: true })
@Index('ix_label_query_dataset_status', ['datasetId', 'status'])
@Index('ix_label_query_item', ['itemId'])
// Round.queries pages a round's queries by rank.
@Index('ix_label_query_round_rank', ['roundId', 'rank'])
@Index('ix_label_query_queue', ['datasetId', 'roundId', 'rank'], { where: "status = 'OPEN'" })
export class LabelQuery {
  @BigintIdColumn()
  id: string;

  @UuidRefColumn('dataset_id')
  datasetId: string;

  @UuidRefColumn('round_id')
  roundId: string;

  @ParentRelation(() => Round, 'round_id')
  round?: Relation<Round>;

  @BigintRefColumn('item_id')
  itemId: string;

  @ParentRelation(() => Item, 'item_id')
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

  @CreatedAtColumn()
  createdAt: Date;

  @TimeColumn('answered_at')
  answeredAt: Date | null;
}
