import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

@Entity({ name: 'dataset' })
export class Dataset {
  @PrimaryGeneratedColumn('uuid')
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

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
