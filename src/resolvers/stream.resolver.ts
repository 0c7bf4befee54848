import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { StreamDecisionKind } from '../entities';
import { authorize, Permission } from '../services/permissions';
import { ImportItemInput, ItemNode } from '../schema/item.types';
import { LabelQueryNode } from '../schema/queue.types';
import {
  StreamDecisionConnection,
  StreamConnection,
  StreamDecisionNode,
  StreamItemsResult,
  StreamNode,
  StreamPolicyInput,
  StreamPolicyNode,
} from '../schema/stream.types';
import { PageArgs, toConnection } from '../schema/connection';
import { DEFAULT_STREAM_NAME } from '../services/stream.service';
import type { GraphQLContext } from './context';
import type { Page } from '../services/pagination';
import { className, datasetClasses, loadReferenced, toPluginNode } from './shapes';

@Resolver(() => StreamDecisionNode)
export class StreamResolver {
  @Mutation(() => StreamItemsResult, {
    description:
      "Stream-based selective sampling. Stores the new items (as importItems would, in the POOL, unlabelled), scores each with the model, and decides them in input order with the stream's policy: QUERIED (the model's confidence is below the policy's threshold: queued for a human in one batch of mechanism STREAM, spending budget), AUTO_LABELED (at or above the threshold in force: a MODEL label from the model), DEFERRED (it would be queried but the budget is spent; it stays in the pool) or SKIPPED (below the threshold while the policy's pacing held the query back, or below the certified threshold of certifiedRunId: it stays in the pool, unlabelled). Thresholds are always probabilities in [0, 1]. All or nothing; every decision is stored (see streamDecisions). The stream (per dataset and name) is made on first use with this policy; later calls must give the same policy and params (CONFLICT otherwise), and its state carries over between calls. BAD_USER_INPUT for an unknown model or policy, bad params or bad items (each listed). At most the importItems limit of items per call; an empty list decides nothing.",
  })
  async streamItems(
    @Arg('datasetId', () => ID) datasetId: string,
    @Arg('modelId', () => ID, { description: "The dataset's model that scores the items." })
    modelId: string,
    @Arg('items', () => [ImportItemInput]) items: ImportItemInput[],
    @Arg('policy', () => StreamPolicyInput) policy: StreamPolicyInput,
    @Arg('stream', () => String, {
      nullable: true,
      description: `The stream's name (default \`${DEFAULT_STREAM_NAME}\`): streams keep separate policies and states.`,
    })
    stream: string | null,
    @Arg('certifiedRunId', () => ID, {
      nullable: true,
      description:
        "A CERTIFIED auto-label run of the same model: an item is AUTO_LABELED only when its confidence also reaches that run's certified threshold (its class's, with per-class thresholds); below it, an item the policy would accept is SKIPPED.",
    })
    certifiedRunId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<StreamItemsResult> {
    const r = await ctx.services.streams.streamItems(
      ctx.key,
      datasetId,
      modelId,
      items,
      policy,
      stream ?? DEFAULT_STREAM_NAME,
      certifiedRunId,
    );
    const count = (kind: StreamDecisionKind) =>
      r.decisions.filter((d) => d.decision === kind).length;
    return {
      stream: r.stream as unknown as StreamNode | null,
      decisions: r.decisions,
      queriedCount: count(StreamDecisionKind.QUERIED),
      autoLabeledCount: count(StreamDecisionKind.AUTO_LABELED),
      deferredCount: count(StreamDecisionKind.DEFERRED),
      skippedCount: count(StreamDecisionKind.SKIPPED),
      roundId: r.roundId,
      budgetRemaining: r.budgetRemaining,
    };
  }

  @Query(() => StreamDecisionConnection, {
    description:
      "A dataset's stream decisions in the order they were made, optionally of one stream or one kind.",
  })
  async streamDecisions(
    @Arg('datasetId', () => ID) datasetId: string,
    @Arg('stream', () => String, { nullable: true, description: 'Only this stream’s decisions.' })
    stream: string | null,
    @Arg('decision', () => StreamDecisionKind, { nullable: true })
    decision: StreamDecisionKind | null,
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<StreamDecisionConnection> {
    const page = await ctx.services.streams.decisions(
      ctx.key,
      datasetId,
      { stream, decision },
      first,
      after,
    );
    return toConnection(StreamDecisionConnection, page);
  }

  @Query(() => [StreamPolicyNode], { description: 'Every registered stream policy, by code.' })
  streamPolicies(@Ctx() ctx: GraphQLContext): StreamPolicyNode[] {
    authorize(ctx.key, Permission.READ_DATASET);
    const registry = ctx.services.streams.policies;
    return registry.list().map(({ plugin }) => toPluginNode(registry, plugin));
  }

  @Query(() => StreamConnection, {
    description: "A dataset's streams, by name (`first`: 0 to 1000, default 50).",
  })
  async streams(
    @Arg('datasetId', () => ID) datasetId: string,
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<StreamConnection> {
    const page = await ctx.services.streams.streams(ctx.key, datasetId, first, after);
    return toConnection(StreamConnection, page as unknown as Page<StreamNode>);
  }

  @FieldResolver(() => ItemNode, { description: 'The item decided.' })
  item(@Root() d: StreamDecisionNode, @Ctx() ctx: GraphQLContext): Promise<ItemNode> {
    return loadReferenced(ctx.loaders.item, d.itemId, 'item', `stream decision ${d.id}`);
  }

  @FieldResolver(() => String, { description: 'The class the model predicted, by name.' })
  async value(@Root() d: StreamDecisionNode, @Ctx() ctx: GraphQLContext): Promise<string> {
    return className(await datasetClasses(ctx, d.datasetId), d.predictedClass);
  }

  @FieldResolver(() => LabelQueryNode, {
    nullable: true,
    description: 'The query made for a QUERIED item.',
  })
  async query(
    @Root() d: StreamDecisionNode,
    @Ctx() ctx: GraphQLContext,
  ): Promise<LabelQueryNode | null> {
    return d.queryId ? ctx.loaders.query.load(d.queryId) : null;
  }
}
