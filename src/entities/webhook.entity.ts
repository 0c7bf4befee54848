import { Column, Entity, Index } from 'typeorm';
import { CreatedAtColumn, UuidIdColumn, UuidRefColumn } from './columns';
import { DatasetOwned } from './dataset-owned';
import { WebhookEventKind } from './enums';

/**
 * A URL that hears of a dataset's events: each event of a kind it listens to becomes a
 * {@link WebhookDelivery}, POSTed with an HMAC-SHA256 signature made with `secret`.
 */
@Entity({ name: 'webhook' })
@Index('ix_webhook_dataset', ['datasetId'])
export class Webhook extends DatasetOwned {
  @UuidIdColumn()
  id: string;

  @Column({ type: 'varchar', length: 2000 })
  url: string;

  @Column({ type: 'enum', enum: WebhookEventKind, enumName: 'webhook_event_kind', array: true })
  events: WebhookEventKind[];

  /** The signing secret: shown once, when the webhook is created. */
  @Column({ type: 'varchar', length: 200 })
  secret: string;

  @Column({ type: 'boolean', default: true })
  active: boolean;

  /** The API key that registered it. */
  @UuidRefColumn('created_by', true)
  createdBy: string | null;

  @CreatedAtColumn()
  createdAt: Date;
}
