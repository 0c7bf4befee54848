import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { ConnectionType } from './connection';
import { GraphQLJSON } from 'graphql-scalars';
import { ModelOutputKind } from './enums';
import { DatasetRecordNode } from './base.types';

@ObjectType('Model', { description: 'A registered ONNX model version of a dataset.' })
export class ModelNode extends DatasetRecordNode {
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

@ObjectType('CalibrationBin', {
  description: 'One bin of a reliability diagram: top-class confidences in (lower, upper].',
})
export class CalibrationBinNode {
  @Field(() => Float)
  lower: number;

  @Field(() => Float)
  upper: number;

  @Field(() => Int, { description: 'Validation items whose confidence falls in the bin.' })
  count: number;

  @Field(() => Float, { description: 'Their mean top-class confidence (0 when empty).' })
  confidence: number;

  @Field(() => Float, { description: 'The share of them predicted right (0 when empty).' })
  accuracy: number;
}

@ObjectType('CalibrationFit', {
  description: "A model's calibration on the VALIDATION items, at one temperature.",
})
export class CalibrationFitNode {
  @Field(() => Float)
  logLoss: number;

  @Field(() => Float)
  expectedCalibrationError: number;

  @Field(() => [CalibrationBinNode], { description: 'The 15 reliability-diagram bins.' })
  bins: CalibrationBinNode[];
}

@ObjectType('ModelCalibration', {
  description:
    'Temperature scaling fitted at registration on the VALIDATION labels (at least 20; else the temperature is 1): probabilities become softmax(log p / temperature) in every prediction, confidence, threshold and audit. It changes no predicted class.',
})
export class ModelCalibrationNode {
  @Field(() => Float, { description: 'Above 1 softens an over-confident model.' })
  temperature: number;

  @Field(() => CalibrationFitNode, { description: 'As the model gave them.' })
  before: CalibrationFitNode;

  @Field(() => CalibrationFitNode, { description: 'After temperature scaling.' })
  after: CalibrationFitNode;
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

  @Field(() => ModelCalibrationNode, {
    nullable: true,
    description:
      'The temperature and the calibration before and after it; logLoss and expectedCalibrationError above are after. Null for models registered before calibration.',
  })
  calibration: ModelCalibrationNode | null;
}

@ObjectType('ModelStopping', {
  description:
    "The stopping signal after this version (Bloodgood & Vijay-Shanker 2009): Cohen's kappa between its predictions and the previous version's on the dataset's fixed stop set of up to 2,000 unlabelled POOL items; stabilised when the mean of the last three kappas exceeds 0.99.",
})
export class ModelStoppingNode {
  @Field(() => Float, { nullable: true, description: 'Null for the first version.' })
  kappa: number | null;

  @Field(() => Float, { nullable: true, description: 'Null before three kappas.' })
  meanKappa: number | null;

  @Field()
  stabilised: boolean;

  @Field({ description: 'This version made the signal fire.' })
  fired: boolean;

  @Field(() => Int)
  stopSetSize: number;
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

  @Field(() => String, {
    description:
      'How the version was made, to tell versions apart: `trainer {options}` for trained models (e.g. `softmax {"l2":0.01}`), `uploaded` otherwise.',
  })
  madeBy: string;

  @Field(() => ModelStoppingNode, {
    nullable: true,
    description: 'Null when the dataset had no unlabelled POOL items for a stop set.',
  })
  stopping: ModelStoppingNode | null;
}

@ObjectType('StoppingSignal', {
  description:
    "Whether more labels still pay: the stopping signal of the latest model version (Cohen's kappa between successive versions on a fixed stop set; stabilised when the mean of the last three exceeds 0.99), the validation-accuracy trend and the budget left. When it first fires, a `learningStabilised` event is published.",
})
export class StoppingSignalNode {
  @Field(() => Int, { nullable: true, description: 'The latest version; null before any model.' })
  modelVersion: number | null;

  @Field()
  stabilised: boolean;

  @Field(() => Int, {
    nullable: true,
    description:
      'The version that last made the signal fire (while stabilised: where the current stable stretch began); null when it never fired.',
  })
  stabilisedAtVersion: number | null;

  @Field(() => Float, { nullable: true })
  meanKappa: number | null;

  @Field(() => [Float], {
    nullable: 'items',
    description: 'Kappas of the last three versions, oldest first.',
  })
  recentKappas: (number | null)[];

  @Field(() => [Float], {
    nullable: 'items',
    description: 'Validation accuracy of the last three versions, oldest first.',
  })
  recentAccuracy: (number | null)[];

  @Field(() => Float, {
    nullable: true,
    description: 'Latest validation accuracy minus that of three versions back.',
  })
  accuracyTrend: number | null;

  @Field(() => Int, { nullable: true })
  stopSetSize: number | null;

  @Field(() => Int, { nullable: true, description: 'Label units left; null without a budget.' })
  budgetRemaining: number | null;
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

@ObjectType({ description: "A page of a dataset's models, oldest version first." })
export class ModelConnection extends ConnectionType(ModelNode, 'Model') {}

@ObjectType({ description: "A page of an item's predictions, newest model version first." })
export class PredictionConnection extends ConnectionType(PredictionNode, 'Prediction') {}
