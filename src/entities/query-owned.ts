import type { Relation } from 'typeorm';
import { BigintIdColumn, BigintRefColumn, ParentRelation, UuidRefColumn } from './columns';
import { LabelQuery } from './label-query.entity';

/**
 * The base of the rows that belong to one label query and go with it (`ON DELETE CASCADE`): its
 * slots and skips. Their bigint id, `query_id` with the relation behind it, and the query's
 * `dataset_id` (kept on the row for the per-dataset indexes), declared once.
 */
export abstract class QueryOwned {
  @BigintIdColumn()
  id: string;

  @BigintRefColumn('query_id')
  queryId: string;

  @ParentRelation(() => LabelQuery, 'query_id')
  query?: Relation<LabelQuery>;

  @UuidRefColumn('dataset_id')
  datasetId: string;
}
