import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { ConnectionType } from './connection';
import { RecordNode } from './base.types';
import { PayloadKind } from './enums';

@ObjectType('Dataset', {
  description: 'A collection of items to label, with its classes and feature length.',
})
export class DatasetNode extends RecordNode {
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

  @Field({ description: 'Instructions for annotators, as Markdown (empty when none).' })
  guidelines: string;

  @Field(() => String, {
    nullable: true,
    description: 'The payload field a labelling page shows; null for the whole payload.',
  })
  payloadField: string | null;

  @Field(() => PayloadKind, { description: 'How a labelling page shows the payload.' })
  payloadKind: PayloadKind;

  @Field()
  updatedAt: Date;
}

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

  @Field(() => String, { nullable: true, description: 'Instructions for annotators, as Markdown.' })
  guidelines?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'The payload field a labelling page shows; omit (or null) for the whole payload.',
  })
  payloadField?: string | null;

  @Field(() => PayloadKind, {
    nullable: true,
    description: 'How a labelling page shows the payload (default AUTO).',
  })
  payloadKind?: PayloadKind | null;
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
  @Field(() => String, { nullable: true, description: 'Instructions for annotators, as Markdown.' })
  guidelines?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'The payload field a labelling page shows; null for the whole payload; omit to keep it.',
  })
  payloadField?: string | null;

  @Field(() => PayloadKind, {
    nullable: true,
    description: 'How a labelling page shows the payload (default AUTO).',
  })
  payloadKind?: PayloadKind | null;
}

@ObjectType({ description: 'A page of datasets, by name.' })
export class DatasetConnection extends ConnectionType(DatasetNode, 'Dataset') {}
