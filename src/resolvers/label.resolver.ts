import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { LabelSource } from '../entities';
import {
  LabelConnection,
  LabelFilter,
  LabelItemInput,
  LabelItemsResult,
  LabelNode,
} from '../schema/label.types';
import { toConnection } from '../schema/connection';
import type { GraphQLContext } from './context';
import { toLabelNode } from './shapes';

@Resolver(() => LabelNode)
export class LabelResolver {
  @Query(() => LabelConnection, {
    description: "A dataset's labels in the order they were written.",
  })
  async labels(
    @Arg('datasetId', () => ID) datasetId: string,
    @Arg('filter', () => LabelFilter, { nullable: true }) filter: LabelFilter | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<LabelConnection> {
    const page = await ctx.services.labels.list(ctx.key, datasetId, filter ?? {}, first, after);
    const nodes = await Promise.all(page.nodes.map((l) => toLabelNode(l, ctx)));
    return toConnection(LabelConnection, { ...page, nodes });
  }

  @Mutation(() => LabelItemsResult, {
    description:
      "Writes labels in bulk (up to 10,000), by item id or external id, all or nothing. A new label supersedes the item's current label from the same source; history is kept. With an idempotencyKey, a retried call returns the first call's labels and writes nothing more.",
  })
  async labelItems(
    @Arg('datasetId', () => ID) datasetId: string,
    @Arg('labels', () => [LabelItemInput]) labels: LabelItemInput[],
    @Arg('source', () => LabelSource, {
      nullable: true,
      defaultValue: LabelSource.HUMAN,
      description: 'HUMAN (default) or IMPORT.',
    })
    source: LabelSource,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<LabelItemsResult> {
    const result = await ctx.services.labels.labelItems(
      ctx.key,
      datasetId,
      labels,
      source,
      idempotencyKey,
    );
    const stored = await ctx.services.labels.byIds(result.labelIds);
    return {
      labels: await Promise.all(stored.map((l) => toLabelNode(l, ctx))),
      replayed: result.replayed,
    };
  }
}
