import { Ctx, Query, Resolver } from 'type-graphql';
import { StrategyNode } from '../schema/strategy.types';
import { StrategyKind, StrategyNeed } from '../schema/enums';
import { authorize, Permission } from '../services/permissions';
import type { GraphQLContext } from './context';

@Resolver(() => StrategyNode)
export class StrategyResolver {
  @Query(() => [StrategyNode], { description: 'Every registered strategy, by code.' })
  strategies(@Ctx() ctx: GraphQLContext): StrategyNode[] {
    authorize(ctx.key, Permission.READ_DATASET);
    return ctx.registry.list().map(({ plugin: strategy }) => ({
      code: strategy.code,
      description: strategy.description,
      kind: strategy.kind === 'pointwise' ? StrategyKind.POINTWISE : StrategyKind.BATCH,
      needs: strategy.needs.map((n) => n as StrategyNeed),
      paramsSchema: strategy.paramsSchema,
      defaults: ctx.registry.params(strategy.code, {}),
    }));
  }
}
