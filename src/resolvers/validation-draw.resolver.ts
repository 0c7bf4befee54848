import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { DrawValidationSampleInput, ValidationDrawNode } from '../schema/validation-draw.types';
import type { RoundNode } from '../schema/round.types';
import type { GraphQLContext } from './context';

@Resolver()
export class ValidationDrawResolver {
  @Mutation(() => ValidationDrawNode, {
    description:
      "Unbiased validation on demand: draws a seeded uniform random sample of the dataset's unlabelled, unqueued imported POOL items, moves them into the VALIDATION split and queues them for people in one batch of mechanism VALIDATION (its own line in the budget; each query spends annotationsPerItem units). Certified auto-labelling (autoLabel with targetPrecision) rests on VALIDATION labels only, never on items rounds picked. BAD_USER_INPUT for a size outside 1..10,000 or larger than the eligible pool; BUDGET_EXHAUSTED when the queries do not fit the budget; nothing changes then.",
  })
  async drawValidationSample(
    @Arg('input') input: DrawValidationSampleInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ValidationDrawNode> {
    const draw = await ctx.services.validationDraws.draw(ctx.key, input);
    const round = (await ctx.loaders.round.load(draw.roundId)) as RoundNode;
    return { ...draw, round };
  }
}
