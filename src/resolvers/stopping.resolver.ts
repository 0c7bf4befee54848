import { Arg, Field, Float, ID, Int, ObjectType, Resolver, Root, Subscription } from 'type-graphql';
import type { StoppingEvent } from '../services/event-bus';
import { Permission } from '../services/permissions';
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

@Resolver()
export class StoppingResolver {
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
