import { Column, Entity, Index, type Relation } from 'typeorm';
import {
  BigintIdColumn,
  CreatedAtColumn,
  UuidRefColumn,
  BigintRefColumn,
  AnnotatorColumn,
  ParentRelation,
} from './columns';
import { LabelQuery } from './label-query.entity';

/** An annotator passed on a query; they are not offered it again. */
@Entity({ name: 'query_skip' })
@Index('ix_query_skip_query', ['queryId', 'annotatorId'])
export class QuerySkip {
  @BigintIdColumn()
  id: string;

  @BigintRefColumn('query_id')
  queryId: string;

  @ParentRelation(() => LabelQuery, 'query_id')
  query?: Relation<LabelQuery>;

  @UuidRefColumn('dataset_id')
  datasetId: string;

  @UuidRefColumn('api_key_id')
  apiKeyId: string;

  @AnnotatorColumn(false)
  annotatorId: string;

  @Column({ type: 'text', nullable: true })
  reason: string | null;

  @CreatedAtColumn()
  createdAt: Date;
}
