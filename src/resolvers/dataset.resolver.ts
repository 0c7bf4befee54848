import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { PageArgs, toConnection } from '../schema/connection';
import {
  CreateDatasetInput,
  DatasetConnection,
  DatasetNode,
  UpdateDatasetInput,
} from '../schema/dataset.types';
import { BudgetNode } from '../schema/queue.types';
import { StoppingSignalNode } from '../schema/model.types';
import { Permission } from '../services/permissions';
import type { GraphQLContext } from './context';

@Resolver(() => DatasetNode)
export class DatasetResolver {
  @Query(() => DatasetConnection, {
    description: 'The datasets your key may see, by name (`first`: 0 to 1000, default 50).',
  })
  async datasets(
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DatasetConnection> {
    return toConnection(DatasetConnection, await ctx.services.datasets.list(ctx.key, first, after));
  }

  @Query(() => DatasetNode)
  dataset(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<DatasetNode> {
    return ctx.services.datasets.getAuthorized(ctx.key, id, Permission.READ_DATASET);
  }

  @Mutation(() => DatasetNode, {
    description: 'Creates a dataset. Names are unique (CONFLICT otherwise).',
  })
  createDataset(
    @Arg('input') input: CreateDatasetInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DatasetNode> {
    return ctx.services.datasets.create(ctx.key, input);
  }

  @Mutation(() => DatasetNode, {
    description:
      "Changes a dataset's settings. Classes may only be appended; the feature length never changes.",
  })
  updateDataset(
    @Arg('id', () => ID) id: string,
    @Arg('input') input: UpdateDatasetInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DatasetNode> {
    return ctx.services.datasets.update(ctx.key, id, input);
  }

  @FieldResolver(() => BudgetNode, { description: "The dataset's label budget and its use." })
  async budget(@Root() dataset: DatasetNode, @Ctx() ctx: GraphQLContext): Promise<BudgetNode> {
    const b = await ctx.loaders.budget.load(dataset.id);
    return (
      b ?? {
        total: dataset.labelBudget,
        spent: 0,
        held: 0,
        owed: 0,
        reserved: 0,
        remaining: dataset.labelBudget,
      }
    );
  }

  @FieldResolver(() => StoppingSignalNode, {
    description:
      'Whether more labels still pay: the stopping signal of the latest model version, the validation-accuracy trend and the budget left.',
  })
  stoppingSignal(
    @Root() dataset: DatasetNode,
    @Ctx() ctx: GraphQLContext,
  ): Promise<StoppingSignalNode> {
    return ctx.services.models.stoppingSignal(ctx.key, dataset.id);
  }
}
