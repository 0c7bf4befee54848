import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { LabelQueryStatus, LabelSource, QueryMechanism, QueueEventKind } from './enums';
import { ConnectionType } from './connection';
import { DatasetRecordNode } from './base.types';

@ObjectType('LabelQuery', {
  description: 'A request to a human for one item\'s label ("query" in active-learning terms).',
})
export class LabelQueryNode extends DatasetRecordNode {
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

  @Field(() => Int, {
    description:
      "Distinct annotators who must answer (the dataset's annotationsPerItem when the round opened).",
  })
  answersNeeded: number;

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

  @Field(() => Int, {
    description:
      'Answers still owed to open queries, held by a claim or not: units already promised, spent as they are answered.',
  })
  owed: number;

  @Field(() => Int, {
    description: 'Units the rounds still being scored will ask for once they open.',
  })
  reserved: number;

  @Field(() => Int, {
    nullable: true,
    description:
      'total − spent − owed − reserved: what new queries (a round, a stream batch, audits, synthetic items) may still use; the same number as streamItems.budgetRemaining and the one a BUDGET_EXHAUSTED refusal names. null for no limit.',
  })
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

@ObjectType('QueueCounts', { description: "A dataset's label queue in numbers." })
export class QueueCountsNode {
  @Field(() => Int, { description: 'Open queries, claimable or held.' })
  open: number;

  @Field(() => Int, { description: 'Open queries held by a live claim.' })
  held: number;

  @Field(() => Int, { description: 'Answered queries.' })
  answered: number;
}
@ObjectType('ClassCount', { description: 'Current labels of one class from one source.' })
export class ClassCountNode {
  @Field(() => LabelSource)
  source: LabelSource;

  @Field({ description: 'The class name.' })
  value: string;

  @Field(() => Int)
  count: number;
}

@ObjectType('AnnotatorActivity', { description: "One annotator's work on a dataset." })
export class AnnotatorActivityNode {
  @Field()
  annotatorId: string;

  @Field(() => Int, { description: 'Answers given.' })
  answers: number;

  @Field(() => Int, { description: 'Queries skipped.' })
  skips: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Mean seconds from claim to answer; null before any answer.',
  })
  secondsPerAnswer: number | null;

  @Field(() => Date, { nullable: true })
  lastAnswerAt: Date | null;
}

@ObjectType('ThroughputPoint', { description: 'Answers given in one minute.' })
export class ThroughputPointNode {
  @Field({ description: 'The minute (its start).' })
  minute: Date;

  @Field(() => Int)
  answers: number;
}

@ObjectType('LabellingStats', {
  description: "A dataset's labelling work at a glance, for dashboards.",
})
export class LabellingStatsNode {
  @Field(() => ID)
  datasetId: string;

  @Field(() => [ClassCountNode], { description: 'Current labels by source and class.' })
  classBalance: ClassCountNode[];

  @Field(() => [AnnotatorActivityNode], { description: 'Annotators, busiest first (up to 200).' })
  annotators: AnnotatorActivityNode[];

  @Field(() => [ThroughputPointNode], {
    description: 'Answers per minute over the last hour, oldest first (empty minutes left out).',
  })
  throughput: ThroughputPointNode[];
}

@ObjectType('QueueEvent', { description: "A change to a dataset's label queue." })
export class QueueEventNode {
  @Field(() => QueueEventKind)
  kind: QueueEventKind;

  @Field(() => ID)
  datasetId: string;

  @Field(() => ID, { nullable: true, description: 'The round opened or closed.' })
  roundId: string | null;

  @Field(() => [ID], {
    description: 'The queries claimed, released, skipped, answered or whose lease ran out.',
  })
  queryIds: string[];

  @Field(() => QueueCountsNode, { nullable: true, description: 'SNAPSHOT events only.' })
  counts: QueueCountsNode | null;

  @Field()
  at: Date;
}
