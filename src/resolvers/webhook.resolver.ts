import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import {
  CreatedWebhook,
  CreateWebhookInput,
  WebhookDeliveryNode,
  WebhookNode,
} from '../schema/webhook.types';
import type { GraphQLContext } from './context';

@Resolver(() => WebhookNode)
export class WebhookResolver {
  @Query(() => [WebhookNode], {
    description: "A dataset's webhooks (keys that may change the dataset: ADMIN, SERVICE).",
  })
  webhooks(
    @Arg('datasetId', () => ID) datasetId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookNode[]> {
    return ctx.services.webhooks.list(ctx.key, datasetId);
  }

  @Query(() => [WebhookDeliveryNode], {
    description: "A webhook's delivery log, newest first (`first`: 1 to 200, default 20).",
  })
  webhookDeliveries(
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookDeliveryNode[]> {
    return ctx.services.webhooks.deliveries(ctx.key, webhookId, first);
  }

  @FieldResolver(() => [WebhookDeliveryNode], {
    description: 'The delivery log, newest first (`first`: 1 to 200, default 20).',
  })
  deliveries(
    @Root() webhook: WebhookNode,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookDeliveryNode[]> {
    return ctx.services.webhooks.deliveriesOf(webhook.id, first);
  }

  @Mutation(() => CreatedWebhook, {
    description:
      'Registers a webhook for a dataset. The signing secret is in this answer only. BAD_USER_INPUT for a URL that is not http(s) or an empty list of events.',
  })
  async createWebhook(
    @Arg('input') input: CreateWebhookInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreatedWebhook> {
    return ctx.services.webhooks.create(ctx.key, input);
  }

  @Mutation(() => WebhookNode, {
    description: 'Deletes a webhook and its delivery log; pending deliveries are dropped.',
  })
  deleteWebhook(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookNode> {
    return ctx.services.webhooks.delete(ctx.key, id);
  }

  @Mutation(() => WebhookDeliveryNode, {
    description:
      'Sends a PING delivery to the webhook now, through the same queue, signature, retries and log as any event; returns it PENDING (follow it in the delivery log).',
  })
  testWebhook(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookDeliveryNode> {
    return ctx.services.webhooks.test(ctx.key, id);
  }
}
