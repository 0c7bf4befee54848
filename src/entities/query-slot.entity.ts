import { Column, Entity, Index } from 'typeorm';
import { TimeColumn, UuidRefColumn, AnnotatorColumn } from './columns';
import { QueryOwned } from './query-owned';

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
export class QuerySlot extends QueryOwned {
  /** 1..answersNeeded. */
  @Column({ type: 'smallint' })
  slot: number;

  /** The current claim's secret; replaced by every new claim, so an old one goes stale. */
  @UuidRefColumn('claim_token', true)
  claimToken: string | null;

  /** The key that holds (or answered) the slot. */
  @UuidRefColumn('api_key_id', true)
  apiKeyId: string | null;

  /** Who holds (or answered) the slot: the labelling tool's name for the person, or the key id. */
  @AnnotatorColumn(true)
  annotatorId: string | null;

  @TimeColumn('claimed_at')
  claimedAt: Date | null;

  @TimeColumn('lease_expires_at')
  leaseExpiresAt: Date | null;

  /** The annotator's answer (index into the dataset's classes). */
  @Column({ name: 'class_index', type: 'smallint', nullable: true })
  classIndex: number | null;

  @TimeColumn('answered_at')
  answeredAt: Date | null;
}
