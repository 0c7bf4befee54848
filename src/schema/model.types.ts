import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
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
