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
import { LabelQuery } from './label-query.entity';

/** An annotator passed on a query; they are not offered it again. */
@Entity({ name: 'query_skip' })
@Index('ix_query_skip_query', ['queryId', 'annotatorId'])
export class QuerySkip {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ name: 'query_id', type: 'bigint' })
  queryId: string;

  @ManyToOne(() => LabelQuery, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'query_id' })
  query?: Relation<LabelQuery>;

  @Column({ name: 'dataset_id', type: 'uuid' })
  datasetId: string;

  @Column({ name: 'api_key_id', type: 'uuid' })
  apiKeyId: string;

  @Column({ name: 'annotator_id', type: 'varchar', length: 200 })
  annotatorId: string;

  @Column({ type: 'text', nullable: true })
  reason: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
