import { Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import { PredictionNode } from '../schema/model.types';
import type { GraphQLContext } from './context';

@Resolver(() => PredictionNode)
export class PredictionResolver {
  @FieldResolver(() => Int, {
    nullable: true,
    description:
      "The model's version number, to show beside a pre-label (null if the model is gone).",
  })
  modelVersion(@Root() p: PredictionNode, @Ctx() ctx: GraphQLContext): Promise<number | null> {
    return ctx.loaders.modelVersion.load(p.modelId);
  }
}
