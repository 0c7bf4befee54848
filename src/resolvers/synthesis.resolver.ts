import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { SynthesisMethodNode, SynthesizeItemsResult } from '../schema/synthesis.types';
import { authorize, Permission } from '../services/permissions';
import type { GraphQLContext } from './context';
import { toPluginNode } from './shapes';

@Resolver()
export class SynthesisResolver {
  @Query(() => [SynthesisMethodNode], {
    description:
      'Every registered synthesis method (built-in and QUARRY_SYNTHESIS_MODULES), by code.',
  })
  synthesisMethods(@Ctx() ctx: GraphQLContext): SynthesisMethodNode[] {
    authorize(ctx.key, Permission.READ_DATASET);
    const registry = ctx.services.synthesis.registry;
    return registry.list().map(({ plugin }) => toPluginNode(registry, plugin));
  }

  @Mutation(() => SynthesizeItemsResult, {
    description:
      "Membership query synthesis: makes `count` new items in feature space from the dataset's labelled POOL items (HUMAN or IMPORT labels, imported items only) and queues each for a human label in one SYNTHESIS batch. The items have origin SYNTHETIC, split POOL, their parents and how they were made. Each query spends annotationsPerItem budget units; a request needing more than is free is refused with BUDGET_EXHAUSTED and creates nothing. An unknown method, bad params, a count outside 1..maxCount, or a labelled set the method cannot use (smote needs a class with 2 labelled items, mixup 2 classes) is BAD_USER_INPUT.",
  })
  async synthesizeItems(
    @Arg('datasetId', () => ID) datasetId: string,
    @Arg('method', {
      description: 'A code from `synthesisMethods`, e.g. `smote`, `mixup`, `gaussian`.',
    })
    method: string,
    @Arg('count', () => Int, { description: 'How many items to make (1 to 10,000).' })
    count: number,
    @Arg('params', () => GraphQLJSON, {
      nullable: true,
      description: "The method's parameters; omitted ones take their defaults.",
    })
    params: Record<string, unknown> | null,
    @Arg('seed', () => Int, {
      nullable: true,
      description:
        'Seeds every random draw; the same seed on the same labelled set makes the same items.',
    })
    seed: number | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SynthesizeItemsResult> {
    const { items, round } = await ctx.services.synthesis.synthesizeItems(ctx.key, {
      datasetId,
      method,
      count,
      params: params ?? undefined,
      seed,
    });
    return {
      items: items.map(({ features, ...item }) => {
        ctx.loaders.itemFeatures.prime(item.id, features);
        return item;
      }),
      round,
    };
  }
}
