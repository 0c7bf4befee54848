import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import {
  ApiKeyRole,
  ItemOrigin,
  ItemSplit,
  LabelQueryStatus,
  LabelSource,
  ModelOutputKind,
  QueryMechanism,
  QueueEventKind,
  RoundStatus,
  StrategyKind,
  TaskStatus,
  StrategyNeed,
} from './enums';
import { ConnectionType } from './connection';

@ObjectType('Dataset', {
  description: 'A collection of items to label, with its classes and feature length.',
})
export class DatasetNode {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field()
  description: string;

  @Field(() => [String], { description: 'Class names in their fixed order.' })
  classes: string[];

  @Field(() => Int, { description: "Length of every item's feature vector." })
  featureDim: number;

  @Field(() => Int, {
    nullable: true,
    description: 'Human answers the dataset may spend; null for no limit.',
  })
  labelBudget: number | null;

  @Field(() => Int, { description: 'Distinct annotators who must answer each query (default 1).' })
  annotationsPerItem: number;

  @Field()
  createdAt: Date;

  @Field()
  updatedAt: Date;
}

@ObjectType('Label', { description: 'One label given to one item.' })
export class LabelNode {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  itemId: string;

  @Field(() => ID)
  datasetId: string;

  @Field({ description: 'The class name.' })
  value: string;

  @Field(() => Int, { description: "Index of the class in the dataset's classes." })
  classIndex: number;

  @Field(() => LabelSource)
  source: LabelSource;

  @Field(() => ID, { nullable: true, description: 'The API key that wrote the label.' })
  apiKeyId: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'The person who gave the label, as the labelling tool names them.',
  })
  annotatorId: string | null;

  @Field(() => ID, {
    nullable: true,
    description: 'The model version whose prediction this is (MODEL labels).',
  })
  modelId: string | null;

  @Field(() => Float, { nullable: true })
  confidence: number | null;

  @Field()
  createdAt: Date;

  @Field(() => Date, {
    nullable: true,
    description: 'When a newer label from the same source replaced this one.',
  })
  supersededAt: Date | null;

  @Field({ description: 'True until a newer label from the same source supersedes it.' })
  current: boolean;
}

@ObjectType('Item', {
  description: 'One thing to label: its payload for people, its feature vector for models.',
})
export class ItemNode {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  datasetId: string;

  @Field({ description: "The id the item has in the user's own systems; unique per dataset." })
  externalId: string;

  @Field(() => GraphQLJSON, {
    description: 'Whatever an annotator needs to see: text, an image URL, a record.',
  })
  payload: unknown;

  @Field(() => ItemSplit)
  split: ItemSplit;

  @Field(() => ItemOrigin)
  origin: ItemOrigin;

  @Field()
  createdAt: Date;
}

@ObjectType()
export class ItemConnection extends ConnectionType(ItemNode, 'Item') {}

@ObjectType()
export class LabelConnection extends ConnectionType(LabelNode, 'Label') {}

@ObjectType('Model', { description: 'A registered ONNX model version of a dataset.' })
export class ModelNode {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  datasetId: string;

  @Field()
  name: string;

  @Field(() => Int, { description: '1, 2, 3... per dataset, in registration order.' })
  version: number;

  @Field(() => Int)
  sizeBytes: number;

  @Field({ description: 'SHA-256 of the ONNX bytes, hex.' })
  sha256: string;

  @Field()
  inputName: string;

  @Field({ description: 'The output giving class scores.' })
  outputName: string;

  @Field(() => ModelOutputKind)
  outputKind: ModelOutputKind;

  @Field(() => String, { nullable: true })
  embeddingOutputName: string | null;

  @Field(() => Int, { nullable: true })
  embeddingDim: number | null;

  @Field(() => Int, {
    description:
      "Labels made by people (HUMAN and IMPORT, not MODEL) the model was trained on (models Quarry trained), or that the dataset's pool had when it was uploaded.",
  })
  humanLabels: number;

  @Field(() => GraphQLJSON, {
    nullable: true,
    description:
      'For models Quarry trained: trainer, options, seed, labels used (by source and class), seconds taken.',
  })
  training: Record<string, unknown> | null;

  @Field()
  createdAt: Date;
}

@ObjectType('ClassMetrics')
export class ClassMetricsNode {
  @Field({ description: 'The class name.' })
  value: string;

  @Field(() => Float)
  precision: number;

  @Field(() => Float)
  recall: number;

  @Field(() => Float)
  f1: number;

  @Field(() => Int, { description: 'Validation items of this class.' })
  support: number;
}

@ObjectType('ModelMetrics', {
  description:
    "A model's quality on the dataset's labelled VALIDATION items (HUMAN or IMPORT labels; synthetic items excluded), measured when it was registered.",
})
export class ModelMetricsNode {
  @Field(() => Int, { description: 'Validation items measured on.' })
  rows: number;

  @Field(() => Float)
  accuracy: number;

  @Field(() => Float, { description: 'Mean F1 over the classes present in truth or predictions.' })
  macroF1: number;

  @Field(() => Float, { description: 'Mean −ln p(true class), p clipped at 1e-15.' })
  logLoss: number;

  @Field(() => Float, {
    description: 'Expected calibration error over 15 equal-width confidence bins.',
  })
  expectedCalibrationError: number;

  @Field(() => [ClassMetricsNode])
  perClass: ClassMetricsNode[];

  @Field(() => [[Int]], { description: 'confusion[true][predicted], by class index.' })
  confusion: number[][];
}

@ObjectType('LearningCurvePoint', { description: 'One model version on the learning curve.' })
export class LearningCurvePointNode {
  @Field(() => ModelNode)
  model: ModelNode;

  @Field(() => Int)
  humanLabels: number;

  @Field(() => ModelMetricsNode, {
    nullable: true,
    description: 'Null when the dataset had no labelled VALIDATION items then.',
  })
  metrics: ModelMetricsNode | null;
}

@ObjectType({ description: 'How far a round has scored its pool.' })
export class RoundProgress {
  @Field(() => Int)
  scored: number;

  @Field(() => Int)
  total: number;
}

@ObjectType('Round', {
  description: "One selection of label queries by a strategy over a dataset's pool.",
})
export class RoundNode {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  datasetId: string;

  @Field({
    description:
      "The strategy's code, e.g. `margin`; for other mechanisms what made the batch (`audit`, `stream:<policy>`, `synthesis:<method>`).",
  })
  strategy: string;

  @Field(() => QueryMechanism, { description: 'What made this batch of queries.' })
  mechanism: QueryMechanism;

  @Field(() => GraphQLJSON)
  params: Record<string, unknown>;

  @Field(() => Int)
  size: number;

  @Field(() => [ID])
  modelIds: string[];

  @Field(() => RoundStatus)
  status: RoundStatus;

  @Field(() => Int, { description: 'Seeds every random choice of the round.' })
  seed: number;

  @Field(() => Int, {
    description: 'Times a worker started the round (more than 1 after a crash).',
  })
  attempts: number;

  @Field(() => String, { nullable: true, description: 'Why the round failed.' })
  error: string | null;

  @Field()
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt: Date | null;
}

@ObjectType('LabelQuery', {
  description: 'A request to a human for one item\'s label ("query" in active-learning terms).',
})
export class LabelQueryNode {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  roundId: string;

  @Field(() => ID)
  itemId: string;

  @Field(() => Int, { description: '1 is the item the strategy wanted most.' })
  rank: number;

  @Field(() => Float)
  score: number;

  @Field(() => GraphQLJSON, {
    description: "The strategy's reason in numbers, e.g. the margin and the predicted class.",
  })
  reason: Record<string, unknown>;

  @Field(() => LabelQueryStatus)
  status: LabelQueryStatus;

  @Field(() => ID)
  datasetId: string;

  @Field(() => Int, {
    description:
      "Distinct annotators who must answer (the dataset's annotationsPerItem when the round opened).",
  })
  answersNeeded: number;

  @Field()
  createdAt: Date;

  @Field(() => Date, {
    nullable: true,
    description: 'When the last needed answer came in (or a review settled a tie).',
  })
  answeredAt: Date | null;
}

@ObjectType()
export class LabelQueryConnection extends ConnectionType(LabelQueryNode, 'LabelQuery') {}

@ObjectType('QueryClaim', {
  description:
    'A query handed to you with a lease. Submit, renew, release or skip it with its token before the lease expires; after that the query returns to the queue, and once someone else claims it your token is stale (CONFLICT).',
})
export class QueryClaimNode {
  @Field({ description: 'The secret that proves the claim is yours.' })
  token: string;

  @Field()
  expiresAt: Date;

  @Field({ description: 'Who holds the claim: the annotatorId given, or the key id.' })
  annotatorId: string;

  @Field(() => LabelQueryNode)
  query: LabelQueryNode;
}

@ObjectType()
export class SubmitLabelResult {
  @Field(() => LabelQueryNode, {
    description:
      'The query after this answer: ANSWERED, NEEDS_REVIEW, or still OPEN while more answers are needed.',
  })
  query: LabelQueryNode;

  @Field({ description: 'The class name you answered.' })
  value: string;

  @Field({
    description:
      'True when this is the stored outcome of an earlier call with the same idempotency key.',
  })
  replayed: boolean;
}

@ObjectType('QueryAnswer', { description: "One annotator's answer to a query." })
export class QueryAnswerNode {
  @Field()
  annotatorId: string;

  @Field({ description: 'The class name answered.' })
  value: string;

  @Field()
  answeredAt: Date;
}

@ObjectType('MechanismBudget', {
  description: 'Budget use of one mechanism: pool rounds, stream sampling, audits, synthesis.',
})
export class MechanismBudgetNode {
  @Field(() => QueryMechanism)
  mechanism: QueryMechanism;

  @Field(() => Int, { description: 'Answers given to its queries.' })
  spent: number;

  @Field(() => Int, { description: 'Units held by live claims on its queries.' })
  held: number;

  @Field(() => Int, {
    description: 'Answers its open queries still need (held ones included): units promised.',
  })
  owed: number;
}

@ObjectType('LabelBudget', {
  description:
    'Human answers to queries spend the budget one unit each; claims hold a unit until they are answered, released, skipped or their lease expires.',
})
export class BudgetNode {
  @Field(() => Int, {
    nullable: true,
    description: "The dataset's labelBudget; null for no limit.",
  })
  total: number | null;

  @Field(() => Int, { description: 'Answers given to queries.' })
  spent: number;

  @Field(() => Int, { description: 'Units held by claims whose lease has not expired.' })
  held: number;

  @Field(() => Int, { nullable: true, description: 'total − spent − held; null for no limit.' })
  remaining: number | null;
}

@ObjectType('AnnotatorAgreement', {
  description:
    'How often an annotator gave the resolved (most frequent) answer, over queries that needed two or more answers and have them all.',
})
export class AnnotatorAgreementNode {
  @Field()
  annotatorId: string;

  @Field(() => Int, { description: 'Answers to such queries.' })
  answers: number;

  @Field(() => Int, { description: 'Of those, answers equal to the resolved answer.' })
  agreed: number;

  @Field(() => Int, { description: 'Answers to queries that ended tied and are not yet reviewed.' })
  tied: number;

  @Field(() => Float, {
    nullable: true,
    description: 'agreed / (answers − tied); null before any resolved answer.',
  })
  rate: number | null;
}

@ObjectType('QueueEvent', { description: "A change to a dataset's label queue." })
export class QueueEventNode {
  @Field(() => QueueEventKind)
  kind: QueueEventKind;

  @Field(() => ID)
  datasetId: string;

  @Field(() => ID, { nullable: true, description: 'The round opened or closed.' })
  roundId: string | null;

  @Field(() => [ID], { description: 'The queries claimed, released, skipped or answered.' })
  queryIds: string[];

  @Field()
  at: Date;
}

@ObjectType('RoundProgressEvent', { description: "A round's state and progress as it changes." })
export class RoundProgressEventNode {
  @Field(() => ID)
  roundId: string;

  @Field(() => ID)
  datasetId: string;

  @Field(() => RoundStatus)
  status: RoundStatus;

  @Field(() => Int)
  scored: number;

  @Field(() => Int, { nullable: true, description: "The pool's size, once counted." })
  total: number | null;

  @Field(() => String, { nullable: true })
  error: string | null;

  @Field()
  at: Date;
}

@ObjectType('ApiKey', {
  description: 'An API key (its secret is shown only once, when it is created).',
})
export class ApiKeyNode {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field(() => ApiKeyRole)
  role: ApiKeyRole;

  @Field(() => [ID], {
    nullable: true,
    description: 'Datasets the key is limited to; null for all.',
  })
  datasetIds: string[] | null;

  @Field({ description: "The key's first characters, to tell keys apart." })
  prefix: string;

  @Field()
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  revokedAt: Date | null;
}

@ObjectType()
export class CreatedApiKey {
  @Field(() => ApiKeyNode)
  apiKey: ApiKeyNode;

  @Field({ description: 'The key itself. Shown this once: store it now.' })
  secret: string;
}

@ObjectType()
export class ImportItemsResult {
  @Field(() => Int)
  importedCount: number;

  @Field(() => Int, { description: 'How many imported items came with a label.' })
  labelledCount: number;

  @Field(() => [ID], { description: "The new items' ids, in input order." })
  itemIds: string[];
}

@ObjectType()
export class LabelItemsResult {
  @Field(() => [LabelNode])
  labels: LabelNode[];

  @Field({
    description:
      'True when this answer is the stored outcome of an earlier call with the same idempotency key.',
  })
  replayed: boolean;
}

// ---- inputs ----

@InputType()
export class CreateDatasetInput {
  @Field()
  name: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => [String], { description: 'At least two class names, in a fixed order.' })
  classes: string[];

  @Field(() => Int)
  featureDim: number;

  @Field(() => Int, {
    nullable: true,
    description: 'Human answers the dataset may spend; omit for no limit.',
  })
  labelBudget?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: 1 })
  annotationsPerItem?: number | null;
}

@InputType()
export class UpdateDatasetInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => [String], {
    nullable: true,
    description: 'Classes to append; existing classes keep their order.',
  })
  addClasses?: string[] | null;

  @Field(() => Int, {
    nullable: true,
    description: 'A new budget; null removes the limit; omit to keep it.',
  })
  labelBudget?: number | null;

  @Field(() => Int, { nullable: true })
  annotationsPerItem?: number | null;
}

@InputType({
  description:
    'One item to import. Give features as a list of floats or as base64 of little-endian float32.',
})
export class ImportItemInput {
  @Field()
  externalId: string;

  @Field(() => GraphQLJSON, { nullable: true })
  payload?: unknown;

  @Field(() => [Float], { nullable: true })
  features?: number[] | null;

  @Field(() => String, {
    nullable: true,
    description: 'Base64 of featureDim little-endian float32 values (the fast path).',
  })
  featuresBase64?: string | null;

  @Field(() => ItemSplit, { nullable: true, defaultValue: ItemSplit.POOL })
  split?: ItemSplit | null;

  @Field(() => String, {
    nullable: true,
    description: 'A class name: the item arrives labelled (source IMPORT).',
  })
  label?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'A class name kept hidden as ground truth: no query, queue, strategy or export ever shows it; only simulate (as the oracle) and evaluation read it.',
  })
  groundTruth?: string | null;
}

@InputType()
export class ItemFilter {
  @Field(() => ItemSplit, { nullable: true })
  split?: ItemSplit | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'true: only items with a current label; false: only items without.',
  })
  labelled?: boolean | null;

  @Field(() => [String], { nullable: true })
  externalIds?: string[] | null;

  @Field(() => ItemOrigin, { nullable: true })
  origin?: ItemOrigin | null;
}

@InputType({ description: 'A label for one item, named by itemId or by externalId.' })
export class LabelItemInput {
  @Field(() => ID, { nullable: true })
  itemId?: string | null;

  @Field(() => String, { nullable: true })
  externalId?: string | null;

  @Field({ description: 'A class name of the dataset.' })
  value: string;

  @Field(() => Float, { nullable: true })
  confidence?: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'Who gave the label, as the labelling tool names them.',
  })
  annotatorId?: string | null;
}

@InputType()
export class LabelFilter {
  @Field(() => LabelSource, { nullable: true })
  source?: LabelSource | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: true,
    description: 'Only current labels (default); false includes superseded ones.',
  })
  current?: boolean | null;

  @Field(() => [ID], { nullable: true })
  itemIds?: string[] | null;
}

@InputType()
export class CreateApiKeyInput {
  @Field()
  name: string;

  @Field(() => ApiKeyRole)
  role: ApiKeyRole;

  @Field(() => [ID], {
    nullable: true,
    description: 'Limit the key to these datasets; omit for all.',
  })
  datasetIds?: string[] | null;
}

@ObjectType('Strategy', { description: 'A registered selection strategy (built-in or plugin).' })
export class StrategyNode {
  @Field({ description: 'Stable kebab-case code, e.g. `margin`.' })
  code: string;

  @Field()
  description: string;

  @Field(() => StrategyKind)
  kind: StrategyKind;

  @Field(() => [StrategyNeed], { description: 'What the strategy needs from inference.' })
  needs: StrategyNeed[];

  @Field(() => GraphQLJSON, { description: 'JSON Schema of the parameters, with their defaults.' })
  paramsSchema: Record<string, unknown>;

  @Field(() => GraphQLJSON, { description: 'The parameters a round gets when it gives none.' })
  defaults: Record<string, unknown>;
}

@ObjectType('Prediction', { description: "A model's latest prediction for an item (a pre-label)." })
export class PredictionNode {
  @Field(() => ID)
  modelId: string;

  @Field({ description: 'The predicted class name.' })
  value: string;

  @Field(() => Int)
  classIndex: number;

  @Field(() => Float, { description: "The predicted class's probability." })
  confidence: number;

  @Field()
  createdAt: Date;
}

@InputType()
export class StartRoundInput {
  @Field(() => ID)
  datasetId: string;

  @Field({ description: 'A strategy code from `strategies`.' })
  strategy: string;

  @Field(() => GraphQLJSON, {
    nullable: true,
    description: "The strategy's parameters; omitted ones take their defaults.",
  })
  params?: Record<string, unknown> | null;

  @Field(() => Int, { description: 'How many queries to select.' })
  size: number;

  @Field(() => [ID], {
    nullable: true,
    description: 'The models to score with (two or more for a committee).',
  })
  modelIds?: string[] | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Seeds every random choice; the same seed reproduces a selection.',
  })
  seed?: number | null;
}

@ObjectType('TrainingRun', {
  description:
    'A model training job: QUEUED -> RUNNING -> SUCCEEDED (with the registered model) or FAILED (with a readable error).',
})
export class TrainingRunNode {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  datasetId: string;

  @Field(() => TaskStatus)
  status: TaskStatus;

  @Field(() => GraphQLJSON, { description: 'Trainer, options (defaults applied), seed, sources.' })
  params: Record<string, unknown>;

  @Field(() => ID, { nullable: true })
  modelId: string | null;

  @Field(() => String, { nullable: true })
  error: string | null;

  @Field()
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  finishedAt: Date | null;
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
export class SimulationNode {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  datasetId: string;

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

  @Field(() => String, { nullable: true })
  error: string | null;

  @Field()
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  finishedAt: Date | null;
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
