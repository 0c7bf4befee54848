import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { ConnectionType } from './connection';
import { GraphQLJSON } from 'graphql-scalars';
import { QueryMechanism, RoundStatus, SelectionMethod } from './enums';
import { DatasetRecordNode } from './base.types';

@ObjectType({ description: 'How far a round has scored its pool.' })
export class RoundProgress {
  @Field(() => Int)
  scored: number;

  @Field(() => Int)
  total: number;

  @Field(() => Int, {
    description:
      "Items scored but left out: a model's outputs for them were not finite (NaN or Infinity), so they were not candidates and got no prediction.",
  })
  skipped: number;
}

@ObjectType('Round', {
  description: "One selection of label queries by a strategy over a dataset's pool.",
})
export class RoundNode extends DatasetRecordNode {
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

  @Field(() => Int, {
    description:
      'How many shards (id ranges of the pool, scored by any Quarry process sharing the database) the round is scored in; 1: one process. Until scoring starts, how many were asked for.',
  })
  shards: number;

  @Field(() => SelectionMethod, { description: 'How the queries were chosen from the shards.' })
  selectionMethod: SelectionMethod;

  @Field(() => Date, { nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt: Date | null;
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

  @Field(() => Int, {
    nullable: true,
    description:
      'Shards to score the pool in (1 to 256): id ranges scored as jobs by any Quarry process sharing the database, then merged (see `Round.selectionMethod`). A pool smaller than QUARRY_ROUND_SHARD_MIN_ROWS per shard gets fewer. Default: QUARRY_ROUND_SHARDS (1: one process).',
  })
  shards?: number | null;
}

@ObjectType({ description: "A page of a dataset's rounds, newest first." })
export class RoundConnection extends ConnectionType(RoundNode, 'Round') {}
