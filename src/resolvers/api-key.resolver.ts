import { Arg, Args, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import {
  ApiKeyConnection,
  ApiKeyNode,
  CreateApiKeyInput,
  CreatedApiKey,
} from '../schema/api-key.types';
import { PageArgs, toConnection } from '../schema/connection';
import { authorize, Permission } from '../services/permissions';
import type { GraphQLContext } from './context';

@Resolver(() => ApiKeyNode)
export class ApiKeyResolver {
  @Query(() => ApiKeyNode, { description: 'The API key making this request.' })
  viewer(@Ctx() ctx: GraphQLContext): ApiKeyNode {
    return ctx.key;
  }

  @Query(() => ApiKeyConnection, {
    description: 'Every API key, oldest first (ADMIN only; `first`: 0 to 1000, default 50).',
  })
  async apiKeys(
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ApiKeyConnection> {
    authorize(ctx.key, Permission.MANAGE_KEYS);
    return toConnection(ApiKeyConnection, await ctx.services.apiKeys.list(first, after));
  }

  @Mutation(() => CreatedApiKey, {
    description: 'Creates an API key (ADMIN only). The secret is shown in this answer only.',
  })
  async createApiKey(
    @Arg('input') input: CreateApiKeyInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreatedApiKey> {
    authorize(ctx.key, Permission.MANAGE_KEYS);
    const { key, secret } = await ctx.services.apiKeys.create(input);
    return { apiKey: key, secret };
  }

  @Mutation(() => ApiKeyNode, {
    description: 'Revokes an API key (ADMIN only); it stops working at once.',
  })
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<ApiKeyNode> {
    authorize(ctx.key, Permission.MANAGE_KEYS);
    return ctx.services.apiKeys.revoke(id);
  }
}
