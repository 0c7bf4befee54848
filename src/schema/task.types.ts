import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { ConnectionType } from './connection';
import { GraphQLJSON } from 'graphql-scalars';
import { TaskStatus } from './enums';
import { TaskRunNode } from './base.types';

@ObjectType('TrainingRun', {
  description:
    'A model training job: QUEUED -> RUNNING -> SUCCEEDED (with the registered model) or FAILED (with a readable error).',
})
export class TrainingRunNode extends TaskRunNode {
  @Field(() => TaskStatus)
  status: TaskStatus;

  @Field(() => GraphQLJSON, { description: 'Trainer, options (defaults applied), seed, sources.' })
  params: Record<string, unknown>;

  @Field(() => ID, { nullable: true })
  modelId: string | null;
}

@ObjectType('SimulationPoint')
export class SimulationPointNode {
  @Field(() => Int, { description: 'Labels known at this step (seed included).' })
  labels: number;

  @Field(() => Float)
  meanAccuracy: number;

  @Field(() => Float)
  stdAccuracy: number;

  @Field(() => Float)
  minAccuracy: number;

  @Field(() => Float)
  maxAccuracy: number;

  @Field(() => [Float], { description: 'Test accuracy of each repeat.' })
  accuracies: number[];
}

@ObjectType('SimulationArea')
export class SimulationAreaNode {
  @Field(() => Float)
  mean: number;

  @Field(() => Float)
  std: number;
}

@ObjectType('SimulationCurve', { description: "One strategy's learning curve over the repeats." })
export class SimulationCurveNode {
  @Field()
  strategy: string;

  @Field(() => GraphQLJSON)
  params: Record<string, unknown>;

  @Field(() => [SimulationPointNode])
  points: SimulationPointNode[];

  @Field(() => SimulationAreaNode, {
    description:
      'Area under the learning curve (trapezoids over label counts, divided by their range: a mean accuracy), over the repeats.',
  })
  auc: SimulationAreaNode;
}

@ObjectType('Simulation', {
  description:
    'Whole active-learning loops run with the hidden ground truth as the oracle, to compare strategies before spending a budget. Never touches real labels or queues.',
})
export class SimulationNode extends TaskRunNode {
  @Field(() => TaskStatus)
  status: TaskStatus;

  @Field(() => GraphQLJSON)
  params: Record<string, unknown>;

  @Field(() => Int, { description: 'Loop steps done.' })
  progressDone: number;

  @Field(() => Int, { nullable: true })
  progressTotal: number | null;

  @Field(() => [SimulationCurveNode], { nullable: true, description: 'Once SUCCEEDED.' })
  curves: SimulationCurveNode[] | null;
}

@InputType()
export class TrainModelInput {
  @Field(() => ID)
  datasetId: string;

  @Field({ defaultValue: 'softmax', description: 'A trainer code: softmax or mlp, or a plugin.' })
  trainer: string;

  @Field(() => GraphQLJSON, {
    nullable: true,
    description: "The trainer's options (see `trainers`); defaults fill the rest.",
  })
  options?: Record<string, unknown> | null;

  @Field({
    defaultValue: false,
    description: 'Whether MODEL labels (auto-labels) count as training labels too.',
  })
  includeModelLabels: boolean;

  @Field(() => String, { nullable: true, description: 'Model name (default: the trainer code).' })
  name?: string | null;
}

@InputType()
export class SimulateStrategyInput {
  @Field()
  strategy: string;

  @Field(() => GraphQLJSON, { nullable: true })
  params?: Record<string, unknown> | null;
}

@InputType()
export class SimulateInput {
  @Field(() => ID)
  datasetId: string;

  @Field(() => [SimulateStrategyInput])
  strategies: SimulateStrategyInput[];

  @Field(() => Int, { defaultValue: 20, description: 'Random labelled items to start from.' })
  seedSize: number;

  @Field(() => Int, { defaultValue: 20, description: 'Items each step selects.' })
  batchSize: number;

  @Field(() => Int, {
    defaultValue: 200,
    description: 'Labels at the end of each loop, seed included.',
  })
  budget: number;

  @Field(() => Int, { defaultValue: 5 })
  repeats: number;

  @Field({ defaultValue: 'softmax' })
  trainer: string;

  @Field(() => GraphQLJSON, { nullable: true })
  trainerOptions?: Record<string, unknown> | null;

  @Field(() => Int, { nullable: true, description: 'Seeds every random choice (default: random).' })
  seed?: number | null;
}

@ObjectType('Trainer', { description: 'A registered trainer (built-in or plugin).' })
export class TrainerNode {
  @Field()
  code: string;

  @Field()
  description: string;

  @Field(() => GraphQLJSON, { description: 'JSON Schema of the options, with defaults.' })
  optionsSchema: Record<string, unknown>;
}

@ObjectType({ description: "A page of a dataset's training runs, newest first." })
export class TrainingRunConnection extends ConnectionType(TrainingRunNode, 'TrainingRun') {}

@ObjectType({ description: "A page of a dataset's simulations, newest first." })
export class SimulationConnection extends ConnectionType(SimulationNode, 'Simulation') {}
