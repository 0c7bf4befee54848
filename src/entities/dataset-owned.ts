import type { Relation } from 'typeorm';
import { ParentRelation, UuidRefColumn } from './columns';
import { Dataset } from './dataset.entity';

/**
 * The base of every row that belongs to one dataset and goes with it (`ON DELETE CASCADE`): its
 * `dataset_id` column and the relation behind it, declared once (TypeORM inherits columns from a
 * plain base class).
 */
export abstract class DatasetOwned {
  @UuidRefColumn('dataset_id')
  datasetId: string;

  @ParentRelation(() => Dataset, 'dataset_id')
  dataset?: Relation<Dataset>;
}
