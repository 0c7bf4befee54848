import { Arg, Ctx, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import { LabelQueryNode, RoundNode, RoundProgress } from '../schema/types';
import type { Round } from '../entities';
import type { GraphQLContext } from './context';

@Resolver(() => RoundNode)
export class RoundResolver {
  @Query(() => [RoundNode], { description: "A dataset's rounds, newest first." })
  rounds(
    @Arg('datasetId', () => ID) datasetId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RoundNode[]> {
    return ctx.services.rounds.list(ctx.key, datasetId);
  }

  @Query(() => RoundNode)
  round(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<RoundNode> {
    return ctx.services.rounds.get(ctx.key, id);
  }

  @FieldResolver(() => RoundProgress, { description: "Items scored so far, of the pool's total." })
  progress(@Root() round: Round): RoundProgress {
    return { scored: round.itemsScored, total: round.itemsTotal };
  }

  @FieldResolver(() => [LabelQueryNode], { description: "The round's queries by rank." })
  queries(@Root() round: Round, @Ctx() ctx: GraphQLContext): Promise<LabelQueryNode[]> {
    return ctx.loaders.roundQueries.load(round.id);
  }
}
