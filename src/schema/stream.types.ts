import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { StreamDecisionKind } from './enums';
import { ConnectionType } from './connection';
import { DatasetRecordNode, PluginType } from './base.types';

@InputType({ description: 'A stream selective-sampling policy and its parameters.' })
export class StreamPolicyInput {
  @Field({ description: 'The policy code, e.g. `variable-threshold` (see streamPolicies).' })
  code: string;

  @Field(() => GraphQLJSON, {
    nullable: true,
    description: "Parameters for the policy's paramsSchema; omitted ones take their defaults.",
  })
  params?: Record<string, unknown> | null;
}

@ObjectType('StreamPolicy', {
  description: 'A registered stream selective-sampling policy (built-in or plugin).',
})
export class StreamPolicyNode extends PluginType('StreamPolicy', {
  code: 'Stable kebab-case code, e.g. `fixed-threshold`.',
  defaults: 'The parameters a stream gets when it gives none.',
}) {}

@ObjectType('Stream', {
  description:
    "A dataset's named stream: the policy deciding its items and the policy's state, kept between streamItems calls.",
})
export class StreamNode extends DatasetRecordNode {
  @Field({ description: 'The name streamItems calls give (default `default`).' })
  name: string;

  @Field({ description: 'The policy code.' })
  policy: string;

  @Field(() => GraphQLJSON, { description: 'The policy parameters, defaults applied.' })
  params: Record<string, unknown>;

  @Field(() => GraphQLJSON, {
    description:
      'The state after the last decided item: counters (seen, requested, queried, deferred, accepted, skipped), the seed of the random draws, and the policy’s own state (e.g. the current threshold).',
  })
  state: Record<string, unknown>;

  @Field(() => ID, { nullable: true, description: 'The newest batch of queries it opened.' })
  roundId: string | null;

  @Field()
  updatedAt: Date;
}

@ObjectType('StreamDecision', {
  description: 'What stream-based selective sampling decided for one arriving item, and why.',
})
export class StreamDecisionNode extends DatasetRecordNode {
  @Field(() => ID)
  streamId: string;

  @Field(() => ID)
  itemId: string;

  @Field(() => ID, { description: 'The model that scored the item.' })
  modelId: string;

  @Field(() => StreamDecisionKind)
  decision: StreamDecisionKind;

  @Field(() => Float, { description: "The model's top-class probability for the item." })
  score: number;

  @Field(() => Float, {
    description: 'The threshold in force: the item is wanted for a human when score < threshold.',
  })
  threshold: number;

  @Field(() => Int, { description: 'Index of the class the model predicted.' })
  predictedClass: number;

  @Field(() => ID, { nullable: true, description: 'The query made for a QUERIED item.' })
  queryId: string | null;

  @Field(() => ID, { nullable: true, description: 'The MODEL label of an AUTO_LABELED item.' })
  labelId: string | null;
}

@ObjectType()
export class StreamDecisionConnection extends ConnectionType(
  StreamDecisionNode,
  'StreamDecision',
) {}

@ObjectType({ description: 'What streamItems decided.' })
export class StreamItemsResult {
  @Field(() => StreamNode, {
    nullable: true,
    description: 'The stream after this call (null for an empty call on a stream not yet made).',
  })
  stream: StreamNode | null;

  @Field(() => [StreamDecisionNode], { description: 'One decision per item, in input order.' })
  decisions: StreamDecisionNode[];

  @Field(() => Int)
  queriedCount: number;

  @Field(() => Int)
  autoLabeledCount: number;

  @Field(() => Int)
  deferredCount: number;

  @Field(() => Int, {
    description:
      'Items below the threshold in force that were neither queried (pacing) nor labelled.',
  })
  skippedCount: number;

  @Field(() => ID, {
    nullable: true,
    description: "The batch (round, mechanism STREAM) holding this call's queries, if any.",
  })
  roundId: string | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Budget units free after this call; null when the dataset has no budget.',
  })
  budgetRemaining: number | null;
}

@ObjectType({ description: "A page of a dataset's streams, by name." })
export class StreamConnection extends ConnectionType(StreamNode, 'Stream') {}
