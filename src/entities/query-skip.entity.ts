import { Column, Entity, Index } from 'typeorm';
import { CreatedAtColumn, UuidRefColumn, AnnotatorColumn } from './columns';
import { QueryOwned } from './query-owned';

/** An annotator passed on a query; they are not offered it again. */
@Entity({ name: 'query_skip' })
@Index('ix_query_skip_query', ['queryId', 'annotatorId'])
export class QuerySkip extends QueryOwned {
  @UuidRefColumn('api_key_id')
  apiKeyId: string;

  @AnnotatorColumn(false)
  annotatorId: string;

  @Column({ type: 'text', nullable: true })
  reason: string | null;

  @CreatedAtColumn()
  createdAt: Date;
}
