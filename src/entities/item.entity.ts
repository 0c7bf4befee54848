import { Column, Entity, Index } from 'typeorm';
import { BigintIdColumn, CreatedAtColumn } from './columns';
import { DatasetOwned } from './dataset-owned';
import { ItemOrigin, ItemSplit } from './enums';

@Entity({ name: 'item' })
@Index('uq_item_dataset_external_id', ['datasetId', 'externalId'], { unique: true })
@Index('ix_item_dataset_split_id', ['datasetId', 'split', 'id'])
export class Item extends DatasetOwned {
  /** bigint: pg returns it as a string, which is also how GraphQL IDs travel. */
  @BigintIdColumn()
  id: string;

  @Column({ name: 'external_id', type: 'varchar', length: 512 })
  externalId: string;

  /** Whatever an annotator needs to see (text, an image URL, a record). */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  payload: unknown;

  /** Little-endian float32 of exactly the dataset's feature dimension. */
  @Column({ type: 'bytea' })
  features: Buffer;

  @Column({ type: 'enum', enum: ItemSplit, enumName: 'item_split', default: ItemSplit.POOL })
  split: ItemSplit;

  @Column({ type: 'enum', enum: ItemOrigin, enumName: 'item_origin', default: ItemOrigin.IMPORTED })
  origin: ItemOrigin;

  /** For SYNTHETIC items: the items it was made from. */
  @Column({ type: 'bigint', array: true, nullable: true })
  parents: string[] | null;

  /** For SYNTHETIC items: the method, its parameters and what it drew (e.g. the mixup weight). */
  @Column({ type: 'jsonb', nullable: true })
  synthesis: Record<string, unknown> | null;

  /**
   * The true class, known only to simulations and evaluation (index into the dataset's classes).
   * Never read by strategies, queues or label listings, and never sent to clients.
   */
  @Column({ name: 'ground_truth', type: 'smallint', nullable: true, select: false })
  groundTruth: number | null;

  @CreatedAtColumn()
  createdAt: Date;
}
