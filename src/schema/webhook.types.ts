import { ArgsType, Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { ConnectionType } from './connection';
import { DatasetRecordNode, RecordNode } from './base.types';
import { WebhookDeliveryStatus, WebhookEventKind } from './enums';

@ObjectType('Webhook', {
  description:
    'A URL that hears of a dataset\'s events. Each delivery is a POST of JSON `{ event, datasetId, at, data }` with headers `x-quarry-event`, `x-quarry-delivery`, `x-quarry-timestamp` (Unix seconds) and `x-quarry-signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the webhook\'s secret>`; anything but a 2xx answer within the timeout is retried with exponential backoff.',
})
export class WebhookNode extends DatasetRecordNode {
  @Field()
  url: string;

  @Field(() => [WebhookEventKind])
  events: WebhookEventKind[];

  @Field()
  active: boolean;
}

@ObjectType()
export class CreatedWebhook {
  @Field(() => WebhookNode)
  webhook: WebhookNode;

  @Field({
    description: 'The signing secret. Shown this once: store it where the receiver can read it.',
  })
  secret: string;
}

@ObjectType('WebhookDelivery', { description: 'One event sent (or being sent) to a webhook.' })
export class WebhookDeliveryNode extends RecordNode {
  @Field(() => ID)
  webhookId: string;

  @Field(() => WebhookEventKind)
  event: WebhookEventKind;

  @Field(() => WebhookDeliveryStatus)
  status: WebhookDeliveryStatus;

  @Field(() => Int, { description: 'Attempts made so far.' })
  attempts: number;

  @Field(() => Int, {
    nullable: true,
    description: "The last attempt's HTTP status; null when there was no answer.",
  })
  responseStatus: number | null;

  @Field(() => String, { nullable: true, description: 'Why the last attempt failed.' })
  error: string | null;

  @Field({ description: 'The JSON body sent, exactly as signed.' })
  body: string;

  @Field(() => Date, { nullable: true })
  lastAttemptAt: Date | null;

  @Field(() => Date, { nullable: true })
  deliveredAt: Date | null;
}

@InputType()
export class CreateWebhookInput {
  @Field(() => ID)
  datasetId: string;

  @Field({ description: 'An http:// or https:// URL that accepts POST.' })
  url: string;

  @Field(() => [WebhookEventKind], { description: 'The events to send (at least one).' })
  events: WebhookEventKind[];
}

@ObjectType({ description: "A page of a webhook's deliveries, newest first." })
export class WebhookDeliveryConnection extends ConnectionType(
  WebhookDeliveryNode,
  'WebhookDelivery',
) {}

/** The arguments of a delivery log: pages of 0 to 200 deliveries (default 20). */
@ArgsType()
export class DeliveryPageArgs {
  @Field(() => Int, { nullable: true, description: 'Page size, 0 to 200 (default 20).' })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;
}
