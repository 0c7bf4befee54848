import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { LabelSource } from './enums';
import { ConnectionType } from './connection';
import { DatasetRecordNode } from './base.types';

@ObjectType('Label', { description: 'One label given to one item.' })
export class LabelNode extends DatasetRecordNode {
  @Field(() => ID)
  itemId: string;

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

  @Field(() => Date, {
    nullable: true,
    description: 'When a newer label from the same source replaced this one.',
  })
  supersededAt: Date | null;

  @Field({ description: 'True until a newer label from the same source supersedes it.' })
  current: boolean;
}

@ObjectType()
export class LabelConnection extends ConnectionType(LabelNode, 'Label') {}

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
