import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { ApiKeyNode, CreateApiKeyInput, CreatedApiKey } from '../schema/api-key.types';
import { authorize, Permission } from '../services/permissions';
import type { GraphQLContext } from './context';

@Resolver(() => ApiKeyNode)
export class ApiKeyResolver {
  @Query(() => ApiKeyNode, { description: 'The API key making this request.' })
  viewer(@Ctx() ctx: GraphQLContext): ApiKeyNode {
    return ctx.key;
  }

  @Query(() => [ApiKeyNode], { description: 'Every API key (ADMIN only).' })
  apiKeys(@Ctx() ctx: GraphQLContext): Promise<ApiKeyNode[]> {
    authorize(ctx.key, Permission.MANAGE_KEYS);
    return ctx.services.apiKeys.list();
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
