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
  Subscription,
} from 'type-graphql';
import {
  AnnotatorAgreementNode,
  BudgetNode,
  LabellingStatsNode,
  LabelQueryConnection,
  MechanismBudgetNode,
  LabelQueryNode,
  QueryAnswerNode,
  QueryClaimNode,
  QueueEventNode,
  SubmitLabelResult,
} from '../schema/queue.types';
import { PredictionNode } from '../schema/model.types';
import { ItemNode } from '../schema/item.types';
import { RoundNode, RoundProgressEventNode } from '../schema/round.types';
import type { LabelQuery, Round } from '../entities';
import { PageArgs, toConnection } from '../schema/connection';
import { authorize, Permission } from '../services/permissions';
import type { QueueCounts, QueueEvent, RoundEvent, StoppingEvent } from '../services/event-bus';
import { queueStreamWithSnapshot, roundProgressStream } from '../services/live-updates';
import {
  DEFAULT_LEASE_SECONDS,
  MAX_CLAIM_COUNT,
  MAX_LEASE_SECONDS,
} from '../services/queue-claim.service';
import type { QueueQuery } from '../services/queue-listing.service';
import type { GraphQLContext } from './context';
import { className, datasetClasses, loadReferenced, toPredictionNode } from './shapes';

/** What subscription resolvers get: the event bus on top of the usual context. */
export interface SubscriptionContext extends GraphQLContext {
  subscribe: {
    queue(datasetId: string): AsyncIterableIterator<QueueEvent>;
    round(roundId: string): AsyncIterableIterator<RoundEvent>;
    stopping(datasetId: string): AsyncIterableIterator<StoppingEvent>;
  };
}

/** The events once `check` passes; when it fails, the subscription ends with its error. */
export async function authorizedOrClosed<E>(
  events: AsyncIterableIterator<E>,
  check: Promise<unknown>,
): Promise<AsyncIterableIterator<E>> {
  try {
    await check;
    return events;
  } catch (e) {
    await events.return?.();
    throw e;
  }
}

@Resolver(() => LabelQueryNode)
export class QueueResolver {
  @Query(() => LabelQueryConnection, {
    description:
      "A dataset's open queries in queue order: the newest open round first (its model is the newest), then by rank, 1 first (rank 1 is the item the strategy wanted most). Claims hand queries out in this order. Held queries are listed too; claim to get one nobody holds.",
  })
  async labelQueue(
    @Arg('datasetId', () => ID) datasetId: string,
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<LabelQueryConnection> {
    const page = await ctx.services.queues.queue(ctx.key, datasetId, first, after);
    return toConnection(LabelQueryConnection, page);
  }

  @Mutation(() => [QueryClaimNode], {
    description: `Atomically hands you up to \`count\` (1 to ${MAX_CLAIM_COUNT}) queries nobody else holds, in queue order, each with a lease of \`leaseSeconds\` (1 to ${MAX_LEASE_SECONDS}, default ${DEFAULT_LEASE_SECONDS}). An empty list means nothing is available to you now. With a label budget, each claim holds a unit; BUDGET_EXHAUSTED when none remain (fewer than count are handed out when fewer remain). A query needing k answers goes to k different annotators, never twice to one, nor again to one who skipped it.`,
  })
  claimQueries(
    @Arg('datasetId', () => ID) datasetId: string,
    @Arg('count', () => Int, { defaultValue: 1 }) count: number,
    @Arg('leaseSeconds', () => Int, { defaultValue: DEFAULT_LEASE_SECONDS }) leaseSeconds: number,
    @Arg('annotatorId', () => String, {
      nullable: true,
      description:
        'Who is labelling, for tools that serve several people with one SERVICE key; ANNOTATOR keys always answer as themselves.',
    })
    annotatorId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<QueryClaimNode[]> {
    return ctx.services.claims.claim(ctx.key, datasetId, count, leaseSeconds, annotatorId);
  }

  @Mutation(() => QueryClaimNode, {
    description:
      'Extends your claim to leaseSeconds from now. CONFLICT if the claim went stale, FORBIDDEN if it is not yours.',
  })
  renewLease(
    @Arg('claimToken') claimToken: string,
    @Arg('leaseSeconds', () => Int, { defaultValue: DEFAULT_LEASE_SECONDS }) leaseSeconds: number,
    @Ctx() ctx: GraphQLContext,
  ): Promise<QueryClaimNode> {
    return ctx.services.claims.renew(ctx.key, claimToken, leaseSeconds);
  }

  @Mutation(() => LabelQueryNode, {
    description: 'Gives your claimed query back to the queue at once (you may get it again).',
  })
  releaseQuery(
    @Arg('claimToken') claimToken: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<LabelQueryNode> {
    return ctx.services.claims.release(ctx.key, claimToken);
  }

  @Mutation(() => LabelQueryNode, {
    description:
      'Passes on your claimed query: it returns to the queue for others and is not offered to you again. Spends no budget.',
  })
  skipQuery(
    @Arg('claimToken') claimToken: string,
    @Arg('reason', () => String, {
      nullable: true,
      description: 'Why (kept; up to 1000 characters).',
    })
    reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<LabelQueryNode> {
    return ctx.services.claims.skip(ctx.key, claimToken, reason);
  }

  @Mutation(() => SubmitLabelResult, {
    description:
      "Answers your claimed query with a class name. With one answer needed it becomes the item's HUMAN label; with k (annotationsPerItem) the query stays open until k annotators answered, then the most frequent answer becomes the label, or the query goes to NEEDS_REVIEW on a tie. Spends one budget unit. BAD_USER_INPUT for an unknown class; CONFLICT for a stale claim (lease expired and claimed by someone else) or a closed query; FORBIDDEN for someone else's claim. Retry with the same idempotencyKey to get the same result and one label.",
  })
  async submitLabel(
    @Arg('queryId', () => ID) queryId: string,
    @Arg('value') value: string,
    @Arg('claimToken') claimToken: string,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SubmitLabelResult> {
    const r = await ctx.services.answers.submit(ctx.key, {
      queryId,
      value,
      claimToken,
      idempotencyKey,
    });
    const query = r.query ?? (await ctx.services.queues.queriesByIds([r.queryId]))[0];
    return { query, value: r.value, replayed: r.replayed };
  }

  @Mutation(() => SubmitLabelResult, {
    description:
      "Changes the answer you gave with a claim while the claim's lease has not ended (the U key of a labelling page): with one answer needed, the new class becomes the item's HUMAN label (the first is kept as history). Spends no more budget. BAD_USER_INPUT for an unknown class; CONFLICT when the claim has no answer, its lease ended, or the query was settled by several annotators; FORBIDDEN for someone else's claim.",
  })
  async changeAnswer(
    @Arg('claimToken') claimToken: string,
    @Arg('value') value: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SubmitLabelResult> {
    const r = await ctx.services.answers.change(ctx.key, claimToken, value);
    return { query: r.query!, value: r.value, replayed: false };
  }

  @Mutation(() => LabelQueryNode, {
    description:
      "Settles a tied query (NEEDS_REVIEW): the value becomes the item's HUMAN label and the query is ANSWERED.",
  })
  resolveReview(
    @Arg('queryId', () => ID) queryId: string,
    @Arg('value') value: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<LabelQueryNode> {
    return ctx.services.answers.resolveReview(ctx.key, queryId, value);
  }

  @Query(() => LabellingStatsNode, {
    description:
      "A dataset's class balance (current labels by source and class), each annotator's answers, skips and mean time per answer, and the answers per minute of the last hour: what a dashboard shows.",
  })
  async labellingStats(
    @Arg('datasetId', () => ID) datasetId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<LabellingStatsNode> {
    const stats = await ctx.services.agreements.stats(ctx.key, datasetId);
    const classes = await datasetClasses(ctx, stats.datasetId);
    return {
      ...stats,
      classBalance: stats.classBalance.map((c) => ({
        source: c.source,
        value: className(classes, c.classIndex),
        count: c.count,
      })),
    };
  }

  @Query(() => [AnnotatorAgreementNode], {
    description:
      "Each annotator's agreement with the resolved answer of queries that needed several answers.",
  })
  annotatorAgreement(
    @Arg('datasetId', () => ID) datasetId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AnnotatorAgreementNode[]> {
    return ctx.services.agreements.byAnnotator(ctx.key, datasetId);
  }

  @FieldResolver(() => ItemNode, { description: 'The item to label.' })
  item(@Root() query: LabelQuery, @Ctx() ctx: GraphQLContext): Promise<ItemNode> {
    return loadReferenced(ctx.loaders.item, query.itemId, 'item', `query ${query.id}`);
  }

  @FieldResolver(() => RoundNode, { description: 'The round that asked.' })
  round(@Root() query: LabelQueryNode, @Ctx() ctx: GraphQLContext): Promise<RoundNode> {
    return loadReferenced(ctx.loaders.round, query.roundId, 'round', `query ${query.id}`);
  }

  @FieldResolver(() => PredictionNode, {
    nullable: true,
    description:
      "The model's pre-label: the round's (first) model's prediction of the item, once stored (predictions are written just after the round opens).",
  })
  async preLabel(
    @Root() query: LabelQueryNode,
    @Ctx() ctx: GraphQLContext,
  ): Promise<PredictionNode | null> {
    const modelId = (query as Partial<QueueQuery>).preLabelModelId;
    if (!modelId) return null;
    const p = await ctx.loaders.prediction.load(`${modelId}:${query.itemId}`);
    if (!p) return null;
    return toPredictionNode(p, await datasetClasses(ctx, query.datasetId));
  }

  @FieldResolver(() => Int, { description: 'Answers given so far.' })
  async answerCount(@Root() query: LabelQueryNode, @Ctx() ctx: GraphQLContext): Promise<number> {
    return (await ctx.loaders.queryProgress.load(query.id)).answered;
  }

  @FieldResolver(() => Int, { description: 'Claims on the query whose lease has not expired.' })
  async heldCount(@Root() query: LabelQueryNode, @Ctx() ctx: GraphQLContext): Promise<number> {
    return (await ctx.loaders.queryProgress.load(query.id)).held;
  }

  @FieldResolver(() => [QueryAnswerNode], {
    description:
      'The answers given so far (needs READ_LABELS: annotators never see each other’s answers).',
  })
  async answers(
    @Root() query: LabelQueryNode,
    @Ctx() ctx: GraphQLContext,
  ): Promise<QueryAnswerNode[]> {
    authorize(ctx.key, Permission.READ_LABELS);
    const [answers, classes] = await Promise.all([
      ctx.loaders.queryAnswers.load(query.id),
      datasetClasses(ctx, query.datasetId),
    ]);
    return answers.map((a) => ({
      annotatorId: a.annotatorId,
      value: className(classes, a.classIndex),
      answeredAt: a.answeredAt,
    }));
  }

  @Subscription(() => QueueEventNode, {
    description:
      "Changes to a dataset's label queue, in the order they were committed, from every Quarry process sharing the database: claims, answers, releases, skips, leases that ran out (LEASE_EXPIRED, reported by whichever process checks them when they end) and rounds. With `snapshot: true` the first event is a SNAPSHOT with the queue's counts as the subscription starts, so a screen needs no separate query.",
    subscribe: async ({ args, context }) => {
      const ctx = context as SubscriptionContext;
      // Listening starts at once (so nothing committed after the subscribe message is missed),
      // but nothing is delivered unless the key may see the dataset.
      const events = ctx.subscribe.queue(String(args.datasetId));
      if (!args.snapshot) {
        return authorizedOrClosed(
          events,
          ctx.services.datasets.getAuthorized(ctx.key, args.datasetId, Permission.READ_DATASET),
        );
      }
      let counts: QueueCounts;
      try {
        counts = await ctx.services.queues.counts(ctx.key, args.datasetId);
      } catch (e) {
        await events.return?.();
        throw e;
      }
      return queueStreamWithSnapshot(events, String(args.datasetId).toLowerCase(), counts);
    },
  })
  queueChanged(
    @Root() event: QueueEvent,
    @Arg('datasetId', () => ID) _datasetId: string,
    @Arg('snapshot', () => Boolean, {
      defaultValue: false,
      description: 'Start with a SNAPSHOT event carrying the counts.',
    })
    _snapshot: boolean,
  ): QueueEventNode {
    return { ...event, counts: event.counts ?? null, at: new Date(event.at) };
  }

  @Subscription(() => RoundProgressEventNode, {
    description:
      "A round's state as the subscription starts (so a round that already opened still tells so), then its status and progress as it scores (once per chunk), selects and opens (or fails); the subscription completes once the round is over (CLOSED, FAILED or CANCELLED).",
    subscribe: async ({ args, context }) => {
      const ctx = context as SubscriptionContext;
      const events = ctx.subscribe.round(String(args.roundId));
      let round: Round;
      try {
        round = await ctx.services.rounds.get(ctx.key, args.roundId);
      } catch (e) {
        await events.return?.();
        throw e;
      }
      return roundProgressStream(events, round);
    },
  })
  roundProgress(
    @Root() event: RoundEvent,
    @Arg('roundId', () => ID) _roundId: string,
  ): RoundProgressEventNode {
    return { ...event, status: event.status as RoundNode['status'], at: new Date(event.at) };
  }
}

@Resolver(() => BudgetNode)
export class BudgetMechanismResolver {
  @FieldResolver(() => [MechanismBudgetNode], {
    description:
      'The same use by mechanism: every unit spent, held or owed, by pool rounds, stream sampling, audits and synthesis.',
  })
  byMechanism(
    @Root() budget: BudgetNode & { datasetId?: string },
    @Ctx() ctx: GraphQLContext,
  ): Promise<MechanismBudgetNode[]> {
    return ctx.loaders.budgetByMechanism.load(budget.datasetId!) as Promise<MechanismBudgetNode[]>;
  }
}
