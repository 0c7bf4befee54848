import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import {
  AutoLabelInput,
  AutoLabelRunConnection,
  AutoLabelRunNode,
} from '../schema/auto-label.types';
import { PageArgs, toConnection } from '../schema/connection';
import { RoundNode } from '../schema/round.types';
import type { AutoLabelRunView } from '../services/auto-label.service';
import type { GraphQLContext } from './context';

/** The API shape of a run, from its task, params, result and audit. */
function toNode(v: AutoLabelRunView): AutoLabelRunNode {
  const { task, params, result } = v;
  return {
    id: task.id,
    datasetId: task.datasetId,
    modelId: params.modelId,
    status: task.status,
    threshold: params.threshold,
    thresholdSource: params.thresholdSource,
    targetPrecision: params.targetPrecision,
    auditRate: params.auditRate,
    seed: params.seed,
    validation: params.validation,
    certificate: params.certificate ?? null,
    classThresholds: params.classThresholds ?? null,
    scoredCount: result?.scored ?? null,
    labelledCount: result?.labelledCount ?? null,
    skippedCount: result?.skipped ?? null,
    nonFiniteCount: result ? (result.nonFinite ?? 0) : null,
    auditCount: result?.auditCount ?? null,
    auditRoundId: result?.auditRoundId ?? null,
    audit: v.audit,
    auditByClass: v.auditByClass,
    progressDone: task.progressDone,
    progressTotal: task.progressTotal,
    revokedAt: result?.revokedAt ? new Date(result.revokedAt) : null,
    revokedCount: result?.revokedCount ?? null,
    restoredCount: result?.restoredCount ?? null,
    error: task.error,
    createdAt: task.createdAt,
    finishedAt: task.finishedAt,
  };
}

@Resolver(() => AutoLabelRunNode)
export class AutoLabelResolver {
  @Mutation(() => AutoLabelRunNode, {
    description:
      'Starts auto-labelling as a job: every POOL item without a HUMAN or IMPORT label and not in an open query whose top predicted probability reaches the threshold gets a MODEL label linked to the model and its confidence (replacing an older MODEL label, which revoking brings back). With targetPrecision the threshold is certified at once on the human-labelled VALIDATION items (see AutoLabelInput.targetPrecision); with perClassThresholds each class has its own. round(auditRate x labels) of the new labels, drawn at random, open as AUDIT queries for people (they spend budget; when they do not fit, the run FAILS with BUDGET_EXHAUSTED and writes nothing). BAD_USER_INPUT for a model of another dataset, not exactly one of threshold and targetPrecision, values out of range, or a target no threshold can be certified for (the error says about how many more validation labels would be needed); BUDGET_EXHAUSTED up front when audits are asked for and no budget is left.',
  })
  async autoLabel(
    @Arg('input') input: AutoLabelInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AutoLabelRunNode> {
    const task = await ctx.services.autoLabels.start(ctx.key, input);
    return toNode(await ctx.services.autoLabels.view(task));
  }

  @Query(() => AutoLabelRunNode, {
    description: 'An auto-label run, with the agreement of its answered audits so far.',
  })
  async autoLabelRun(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AutoLabelRunNode> {
    return toNode(await ctx.services.autoLabels.get(ctx.key, id));
  }

  @Query(() => AutoLabelRunConnection, {
    description: "A dataset's auto-label runs, newest first (`first`: 0 to 1000, default 50).",
  })
  async autoLabelRuns(
    @Arg('datasetId', () => ID) datasetId: string,
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AutoLabelRunConnection> {
    const page = await ctx.services.autoLabels.list(ctx.key, datasetId, first, after);
    return toConnection(AutoLabelRunConnection, { ...page, nodes: page.nodes.map(toNode) });
  }

  @Mutation(() => AutoLabelRunNode, {
    description:
      "Takes back a finished run's MODEL labels (kept as history): each item gets back the label it had before the run, and the run's open audit queries are cancelled. Answers already given stay as HUMAN labels. CONFLICT when the run has not SUCCEEDED or was revoked already.",
  })
  async revokeAutoLabels(
    @Arg('runId', () => ID) runId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AutoLabelRunNode> {
    return toNode(await ctx.services.autoLabels.revoke(ctx.key, runId));
  }

  @FieldResolver(() => RoundNode, {
    nullable: true,
    description: 'The round holding the audit queries (mechanism AUDIT).',
  })
  async auditRound(
    @Root() run: AutoLabelRunNode,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RoundNode | null> {
    return run.auditRoundId
      ? ((await ctx.loaders.round.load(run.auditRoundId)) as RoundNode)
      : null;
  }
}
