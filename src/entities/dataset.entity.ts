import { Column, Entity } from 'typeorm';
import { UuidIdColumn, CreatedAtColumn, UpdatedAtColumn } from './columns';
import { PayloadKind } from './enums';

@Entity({ name: 'dataset' })
export class Dataset {
  @UuidIdColumn()
  id: string;

  @Column({ type: 'varchar', length: 200, unique: true })
  name: string;

  @Column({ type: 'text', default: '' })
  description: string;

  /** Class names in their fixed order; a label stores the index into this list. */
  @Column({ type: 'text', array: true })
  classes: string[];

  @Column({ name: 'feature_dim', type: 'integer' })
  featureDim: number;

  /** Human answers this dataset may spend; null means unlimited. */
  @Column({ name: 'label_budget', type: 'integer', nullable: true })
  labelBudget: number | null;

  @Column({ name: 'annotations_per_item', type: 'integer', default: 1 })
  annotationsPerItem: number;

  /** Instructions for annotators, as Markdown. */
  @Column({ type: 'text', default: '' })
  guidelines: string;

  /** The payload field a labelling page shows (null: the whole payload). */
  @Column({ name: 'payload_field', type: 'varchar', length: 200, nullable: true })
  payloadField: string | null;

  /** How a labelling page shows the payload (see PayloadKind). */
  @Column({ name: 'payload_kind', type: 'varchar', length: 20, default: PayloadKind.AUTO })
  payloadKind: PayloadKind;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;
}
