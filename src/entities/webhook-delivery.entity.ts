import { Column, Entity, Index, type Relation } from 'typeorm';
import {
  BigintIdColumn,
  CreatedAtColumn,
  ParentRelation,
  TimeColumn,
  UuidRefColumn,
} from './columns';
import { WebhookDeliveryStatus, WebhookEventKind } from './enums';
import { Webhook } from './webhook.entity';

/** One event sent (or being sent) to one webhook, with the outcome of its last attempt. */
@Entity({ name: 'webhook_delivery' })
@Index('ix_webhook_delivery_webhook', ['webhookId', 'id'])
export class WebhookDelivery {
  @BigintIdColumn()
  id: string;

  @UuidRefColumn('webhook_id')
  webhookId: string;

  @ParentRelation(() => Webhook, 'webhook_id')
  webhook?: Relation<Webhook>;

  @Column({ type: 'enum', enum: WebhookEventKind, enumName: 'webhook_event_kind' })
  event: WebhookEventKind;

  /** The JSON body sent, exactly as signed. */
  @Column({ type: 'text' })
  body: string;

  @Column({
    type: 'enum',
    enum: WebhookDeliveryStatus,
    enumName: 'webhook_delivery_status',
    default: WebhookDeliveryStatus.PENDING,
  })
  status: WebhookDeliveryStatus;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  /** The HTTP status of the last attempt's answer (null: no answer). */
  @Column({ name: 'response_status', type: 'integer', nullable: true })
  responseStatus: number | null;

  /** Why the last attempt failed. */
  @Column({ type: 'varchar', length: 1000, nullable: true })
  error: string | null;

  @CreatedAtColumn()
  createdAt: Date;

  @TimeColumn('last_attempt_at')
  lastAttemptAt: Date | null;

  @TimeColumn('delivered_at')
  deliveredAt: Date | null;
}
