import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { toConnection } from '../schema/connection';
import {
  CreatedWebhook,
  CreateWebhookInput,
  DeliveryPageArgs,
  WebhookDeliveryConnection,
  WebhookDeliveryNode,
  WebhookNode,
} from '../schema/webhook.types';
import type { GraphQLContext } from './context';
import type { Page } from '../services/pagination';

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

  @Query(() => WebhookDeliveryConnection, {
    description: "A webhook's delivery log, newest first (`first`: 0 to 200, default 20).",
  })
  async webhookDeliveries(
    @Arg('webhookId', () => ID) webhookId: string,
    @Args() { first, after }: DeliveryPageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookDeliveryConnection> {
    const page = await ctx.services.webhooks.deliveries(ctx.key, webhookId, first, after);
    return toConnection(WebhookDeliveryConnection, page as Page<WebhookDeliveryNode>);
  }

  @FieldResolver(() => WebhookDeliveryConnection, {
    description: 'The delivery log, newest first (`first`: 0 to 200, default 20).',
  })
  async deliveries(
    @Root() webhook: WebhookNode,
    @Args() { first, after }: DeliveryPageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookDeliveryConnection> {
    const page = await ctx.services.webhooks.deliveriesOf(webhook.id, first, after);
    return toConnection(WebhookDeliveryConnection, page as Page<WebhookDeliveryNode>);
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
