import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { PageArgs, toConnection } from '../schema/connection';
import { LearningCurvePointNode, ModelNode } from '../schema/model.types';
import {
  SimulateInput,
  SimulationConnection,
  SimulationCurveNode,
  SimulationNode,
  TrainerNode,
  TrainingRunConnection,
  TrainingRunNode,
  TrainModelInput,
} from '../schema/task.types';
import { Task, TaskKind } from '../entities';
import type { GraphQLContext } from './context';
import { datasetClasses, madeBy, toMetricsNode, toStoppingNode } from './shapes';

@Resolver(() => TrainingRunNode)
export class TrainingResolver {
  @Query(() => [TrainerNode], { description: 'The registered trainers.' })
  trainers(@Ctx() ctx: GraphQLContext): TrainerNode[] {
    return ctx.trainers.list().map(({ plugin: trainer }) => ({
      code: trainer.code,
      description: trainer.description,
      optionsSchema: trainer.optionsSchema,
    }));
  }

  @Mutation(() => TrainingRunNode, {
    description:
      "Trains a model on the dataset's labelled POOL items (HUMAN and IMPORT labels; MODEL labels too with includeModelLabels) in a worker thread, exports it to ONNX with its feature standardisation built in, validates it like an upload, measures it on the VALIDATION items and registers it as the next model version. Answers at once with the run QUEUED. BAD_USER_INPUT for an unknown trainer, bad options, or labels of fewer than two classes.",
  })
  trainModel(
    @Arg('input') input: TrainModelInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<TrainingRunNode> {
    return ctx.services.tasks.trainModel(ctx.key, input);
  }

  @Query(() => TrainingRunNode)
  trainingRun(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Task> {
    return ctx.services.tasks.get(ctx.key, id, TaskKind.TRAIN);
  }

  @Query(() => TrainingRunConnection, {
    description: "A dataset's training runs, newest first (`first`: 0 to 1000, default 50).",
  })
  async trainingRuns(
    @Arg('datasetId', () => ID) datasetId: string,
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<TrainingRunConnection> {
    const page = await ctx.services.tasks.list(ctx.key, datasetId, TaskKind.TRAIN, first, after);
    return toConnection(TrainingRunConnection, page);
  }

  @Query(() => [LearningCurvePointNode], {
    description:
      'Every model version of the dataset in order, with the HUMAN labels it was trained on and its metrics on the VALIDATION items.',
  })
  async learningCurve(
    @Arg('datasetId', () => ID) datasetId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<LearningCurvePointNode[]> {
    const models = await ctx.services.tasks.learningCurve(ctx.key, datasetId);
    const classes = (await datasetClasses(ctx, models[0]?.datasetId ?? datasetId)) ?? [];
    return models.map((m) => ({
      model: m as ModelNode,
      humanLabels: m.humanLabels,
      metrics: toMetricsNode(m.metrics, classes),
      madeBy: madeBy(m.training),
      stopping: toStoppingNode(m.stopping),
    }));
  }

  @FieldResolver(() => ModelNode, { nullable: true, description: 'The model it registered.' })
  async model(@Root() run: Task, @Ctx() ctx: GraphQLContext): Promise<ModelNode | null> {
    return run.modelId ? ctx.services.models.get(ctx.key, run.modelId) : null;
  }
}

@Resolver(() => SimulationNode)
export class SimulationResolver {
  @Mutation(() => SimulationNode, {
    description:
      'Runs, as a job, whole active-learning loops on the dataset with its hidden ground truth as the oracle: for each strategy and repeat, from the same random seed set, train, evaluate on TEST, select a batch, reveal it, until `budget` labels. Never touches real labels or queues.',
  })
  simulate(@Arg('input') input: SimulateInput, @Ctx() ctx: GraphQLContext): Promise<Task> {
    return ctx.services.tasks.simulate(ctx.key, input);
  }

  @Query(() => SimulationNode)
  simulation(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Task> {
    return ctx.services.tasks.get(ctx.key, id, TaskKind.SIMULATE);
  }

  @Query(() => SimulationConnection, {
    description: "A dataset's simulations, newest first (`first`: 0 to 1000, default 50).",
  })
  async simulations(
    @Arg('datasetId', () => ID) datasetId: string,
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SimulationConnection> {
    const page = await ctx.services.tasks.list(ctx.key, datasetId, TaskKind.SIMULATE, first, after);
    return toConnection(SimulationConnection, page);
  }

  @FieldResolver(() => [SimulationCurveNode], { nullable: true })
  curves(@Root() task: Task): SimulationCurveNode[] | null {
    const result = task.result as {
      strategies?: {
        code: string;
        params: Record<string, unknown>;
        points: SimulationCurveNode['points'];
        auc: { mean: number; std: number };
      }[];
    } | null;
    if (!result?.strategies) return null;
    return result.strategies.map((s) => ({
      strategy: s.code,
      params: s.params,
      points: s.points,
      auc: { mean: s.auc.mean, std: s.auc.std },
    }));
  }
}
