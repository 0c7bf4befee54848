import {
  Arg,
  Args,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { PageArgs, toConnection } from '../schema/connection';
import { LabelQueryConnection } from '../schema/queue.types';
import { RoundConnection, RoundNode, RoundProgress, StartRoundInput } from '../schema/round.types';
import type { Round } from '../entities';
import type { GraphQLContext } from './context';

@Resolver(() => RoundNode)
export class RoundResolver {
  @Query(() => RoundConnection, {
    description: "A dataset's rounds, newest first (`first`: 0 to 1000, default 50).",
  })
  async rounds(
    @Arg('datasetId', () => ID) datasetId: string,
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RoundConnection> {
    return toConnection(
      RoundConnection,
      await ctx.services.rounds.list(ctx.key, datasetId, first, after),
    );
  }

  @Query(() => RoundNode)
  round(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<RoundNode> {
    return ctx.services.rounds.get(ctx.key, id);
  }

  @Mutation(() => RoundNode, {
    description:
      'Starts a round: checks the strategy, its params, the models and their outputs, the size and the budget (BUDGET_EXHAUSTED), then answers at once with the round QUEUED. It runs as a job: QUEUED -> SCORING (progress) -> SELECTING -> OPEN with its queries, or FAILED with a readable error.',
  })
  startRound(@Arg('input') input: StartRoundInput, @Ctx() ctx: GraphQLContext): Promise<RoundNode> {
    return ctx.services.rounds.start(ctx.key, input);
  }

  @Mutation(() => RoundNode, {
    description:
      'Cancels a queued or running round (it stops at its next chunk, writing no queries), or closes an open one (its open queries are cancelled).',
  })
  cancelRound(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<RoundNode> {
    return ctx.services.rounds.cancel(ctx.key, id);
  }

  @FieldResolver(() => RoundProgress, {
    description: "Items scored so far, of the pool's total, and those left out.",
  })
  progress(@Root() round: Round): RoundProgress {
    return { scored: round.itemsScored, total: round.itemsTotal, skipped: round.itemsSkipped };
  }

  @FieldResolver(() => LabelQueryConnection, {
    description: "The round's queries by rank, 1 first (the item the strategy wanted most).",
  })
  async queries(
    @Root() round: Round,
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<LabelQueryConnection> {
    return toConnection(
      LabelQueryConnection,
      await ctx.services.rounds.queriesPage(round.id, first, after),
    );
  }

  @FieldResolver(() => Int, {
    description:
      "The round's queries settled by their answers (ANSWERED, or NEEDS_REVIEW on a tie): its labelling progress, of `size`.",
  })
  answeredCount(@Root() round: Round, @Ctx() ctx: GraphQLContext): Promise<number> {
    return ctx.loaders.roundSettled.load(round.id);
  }
}
