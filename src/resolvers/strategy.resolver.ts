import { Ctx, Query, Resolver } from 'type-graphql';
import { StrategyNode } from '../schema/strategy.types';
import { StrategyKind, StrategyNeed } from '../schema/enums';
import { authorize, Permission } from '../services/permissions';
import type { GraphQLContext } from './context';
import { toPluginNode } from './shapes';

@Resolver(() => StrategyNode)
export class StrategyResolver {
  @Query(() => [StrategyNode], { description: 'Every registered strategy, by code.' })
  strategies(@Ctx() ctx: GraphQLContext): StrategyNode[] {
    authorize(ctx.key, Permission.READ_DATASET);
    return ctx.registry.list().map(({ plugin: strategy }) => ({
      ...toPluginNode(ctx.registry, strategy),
      kind: strategy.kind === 'pointwise' ? StrategyKind.POINTWISE : StrategyKind.BATCH,
      needs: strategy.needs.map((n) => n as StrategyNeed),
    }));
  }
}
