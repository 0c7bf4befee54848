import {
  Column,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  type Relation,
} from 'typeorm';
import { LabelQuery } from './label-query.entity';

/**
 * One answer a query needs: a query that needs k annotators has k slots. A slot is free, held
 * (claimed, its lease not yet expired) or answered. Claims lock slots with `FOR UPDATE SKIP
 * LOCKED`; because whether a slot is free is stored in the slot's own row, a claimer that reads
 * a slot while another claims it re-checks the new row version and passes it over.
 */
@Entity({ name: 'query_slot' })
@Index('uq_query_slot', ['queryId', 'slot'], { unique: true })
@Index('uq_query_slot_token', ['claimToken'], { unique: true, where: 'claim_token IS NOT NULL' })
@Index('ix_query_slot_open', ['datasetId', 'queryId'], { where: 'answered_at IS NULL' })
@Index('ix_query_slot_answered', ['datasetId', 'annotatorId'], { where: 'answered_at IS NOT NULL' })
@Index('ix_query_slot_annotator', ['queryId', 'annotatorId'])
export class QuerySlot {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ name: 'query_id', type: 'bigint' })
  queryId: string;

  @ManyToOne(() => LabelQuery, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'query_id' })
  query?: Relation<LabelQuery>;

  @Column({ name: 'dataset_id', type: 'uuid' })
  datasetId: string;

  /** 1..answersNeeded. */
  @Column({ type: 'smallint' })
  slot: number;

  /** The current claim's secret; replaced by every new claim, so an old one goes stale. */
  @Column({ name: 'claim_token', type: 'uuid', nullable: true })
  claimToken: string | null;

  /** The key that holds (or answered) the slot. */
  @Column({ name: 'api_key_id', type: 'uuid', nullable: true })
  apiKeyId: string | null;

  /** Who holds (or answered) the slot: the labelling tool's name for the person, or the key id. */
  @Column({ name: 'annotator_id', type: 'varchar', length: 200, nullable: true })
  annotatorId: string | null;

  @Column({ name: 'claimed_at', type: 'timestamptz', nullable: true })
  claimedAt: Date | null;

  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt: Date | null;

  /** The annotator's answer (index into the dataset's classes). */
  @Column({ name: 'class_index', type: 'smallint', nullable: true })
  classIndex: number | null;

  @Column({ name: 'answered_at', type: 'timestamptz', nullable: true })
  answeredAt: Date | null;
}
