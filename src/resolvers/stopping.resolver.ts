import {
  Arg,
  Ctx,
  Field,
  FieldResolver,
  Float,
  ID,
  Int,
  ObjectType,
  Resolver,
  Root,
  Subscription,
} from 'type-graphql';
import { DatasetNode } from '../schema/dataset.types';
import { StoppingSignalNode } from '../schema/model.types';
import type { StoppingEvent } from '../services/event-bus';
import { Permission } from '../services/permissions';
import type { GraphQLContext } from './context';
import { authorizedOrClosed, type SubscriptionContext } from './queue.resolver';

@ObjectType('LearningStabilisedEvent', {
  description:
    "A dataset's stopping signal fired: the mean kappa of the last three model versions on the stop set exceeded 0.99.",
})
export class LearningStabilisedEventNode {
  @Field(() => ID)
  datasetId: string;

  @Field(() => ID, { description: 'The version that made it fire.' })
  modelId: string;

  @Field(() => Int)
  version: number;

  @Field(() => Float)
  meanKappa: number;

  @Field()
  at: Date;
}

@Resolver(() => DatasetNode)
export class StoppingResolver {
  @FieldResolver(() => StoppingSignalNode, {
    description:
      'Whether more labels still pay: the stopping signal of the latest model version, the validation-accuracy trend and the budget left.',
  })
  async stoppingSignal(
    @Root() dataset: DatasetNode,
    @Ctx() ctx: GraphQLContext,
  ): Promise<StoppingSignalNode> {
    return ctx.services.models.stoppingSignal(ctx.key, dataset.id);
  }

  @Subscription(() => LearningStabilisedEventNode, {
    description:
      "Announces when a dataset's stopping signal fires (a new model version makes the mean of the last three kappas exceed 0.99).",
    subscribe: ({ args, context }) => {
      const ctx = context as SubscriptionContext;
      const events = ctx.subscribe.stopping(String(args.datasetId));
      return authorizedOrClosed(
        events,
        ctx.services.datasets.getAuthorized(ctx.key, args.datasetId, Permission.READ_DATASET),
      );
    },
  })
  learningStabilised(
    @Root() event: StoppingEvent,
    @Arg('datasetId', () => ID) _datasetId: string,
  ): LearningStabilisedEventNode {
    return { ...event, at: new Date(event.at) };
  }
}
