import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { TaskStatus } from './enums';
import { TaskRunNode } from './base.types';
import { ThresholdSource } from '../services/auto-label.service';

registerEnumType(ThresholdSource, {
  name: 'ThresholdSource',
  description:
    "How an auto-label run's threshold was set: FIXED (given), or TARGET_PRECISION (the lowest threshold whose precision on the human-labelled VALIDATION items reaches the target).",
});

@InputType({
  description:
    'An auto-label run: give exactly one of threshold and targetPrecision, and the share of new labels to audit.',
})
export class AutoLabelInput {
  @Field(() => ID)
  datasetId: string;

  @Field(() => ID, { description: "The dataset's model whose predictions become MODEL labels." })
  modelId: string;

  @Field(() => Float, {
    nullable: true,
    description:
      'Label every unlabelled POOL item whose top predicted probability is at least this, in (0, 1].',
  })
  threshold?: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'Choose the threshold: the lowest one whose precision on the human-labelled VALIDATION items reaches this, in (0, 1]. Needs at least 30 such items (and 30 at or above the threshold).',
  })
  targetPrecision?: number | null;

  @Field(() => Float, {
    description:
      'Share of the new labels queued for people as AUDIT queries (round(auditRate x labels)), 0 to 1. Audits spend budget.',
  })
  auditRate: number;

  @Field(() => Int, {
    nullable: true,
    description: 'Seeds the random choice of audited labels; random when not given.',
  })
  seed?: number | null;
}

@ObjectType('AutoLabelValidation', {
  description:
    "The model's labels on the human-labelled VALIDATION items at the run's threshold (measured when the run was started).",
})
export class AutoLabelValidationNode {
  @Field(() => Int, { description: 'Human-labelled validation items.' })
  total: number;

  @Field(() => Int, { description: 'Of those, the ones at or above the threshold.' })
  count: number;

  @Field(() => Int, { description: 'Of those, the ones the model got right.' })
  correct: number;

  @Field(() => Float, { nullable: true, description: 'correct / count; null when count is 0.' })
  precision: number | null;

  @Field(() => Float, { description: 'count / total: the share the threshold would label.' })
  coverage: number;

  @Field(() => Float, { description: "Lower end of the precision's 95% Wilson interval." })
  lower: number;

  @Field(() => Float, { description: "Upper end of the precision's 95% Wilson interval." })
  upper: number;
}

@ObjectType('AutoLabelAudit', {
  description:
    "How often people's answers to the run's ANSWERED audit queries agree with its MODEL labels, with a 95% Wilson interval.",
})
export class AutoLabelAuditNode {
  @Field(() => Int)
  audited: number;

  @Field(() => Int)
  agreed: number;

  @Field(() => Float, { nullable: true, description: 'agreed / audited; null before any answer.' })
  rate: number | null;

  @Field(() => Float)
  lower: number;

  @Field(() => Float)
  upper: number;
}

@ObjectType('AutoLabelClassAudit', {
  description: "The audit of the run's labels of one class (the class the model gave).",
})
export class AutoLabelClassAuditNode extends AutoLabelAuditNode {
  @Field({ description: 'The class name.' })
  value: string;

  @Field(() => Int, { description: "The run's labels of this class." })
  labelled: number;
}

@ObjectType('AutoLabelRun', {
  description:
    "A run of auto-labelling: MODEL labels for the pool items the model is sure enough of, a random share of them audited by people, revocable as a whole. Human labels always win over MODEL labels in an item's label.",
})
export class AutoLabelRunNode extends TaskRunNode {
  @Field(() => ID)
  modelId: string;

  @Field(() => TaskStatus, {
    description:
      'QUEUED -> RUNNING -> SUCCEEDED, or FAILED (e.g. BUDGET_EXHAUSTED: the audits did not fit the budget; then nothing was written).',
  })
  status: TaskStatus;

  @Field(() => Float, { description: 'Items whose top probability is at least this are labelled.' })
  threshold: number;

  @Field(() => ThresholdSource)
  thresholdSource: ThresholdSource;

  @Field(() => Float, { nullable: true })
  targetPrecision: number | null;

  @Field(() => Float)
  auditRate: number;

  @Field(() => Int, { description: 'Seed of the audit draw.' })
  seed: number;

  @Field(() => AutoLabelValidationNode, {
    nullable: true,
    description: 'Null when the dataset has no human-labelled validation items.',
  })
  validation: AutoLabelValidationNode | null;

  @Field(() => Int, { nullable: true, description: 'POOL items scored; null until the run ends.' })
  scoredCount: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'MODEL labels written; null until the run ends.',
  })
  labelledCount: number | null;

  @Field(() => Int, {
    nullable: true,
    description:
      'Items above the threshold passed over because a person labelled or queued them while the run scored.',
  })
  skippedCount: number | null;

  @Field(() => Int, {
    nullable: true,
    description:
      "POOL items left unlabelled because the model's outputs for them were not finite (NaN or Infinity); null until the run ends.",
  })
  nonFiniteCount: number | null;

  @Field(() => Int, { nullable: true, description: 'Audit queries opened.' })
  auditCount: number | null;

  @Field(() => ID, { nullable: true })
  auditRoundId: string | null;

  @Field(() => AutoLabelAuditNode, { nullable: true, description: 'Null until the run ends.' })
  audit: AutoLabelAuditNode | null;

  @Field(() => [AutoLabelClassAuditNode], {
    description: 'Per class the model gave: labels written and their audit.',
  })
  auditByClass: AutoLabelClassAuditNode[];

  @Field(() => Int)
  progressDone: number;

  @Field(() => Int, { nullable: true })
  progressTotal: number | null;

  @Field(() => Date, { nullable: true })
  revokedAt: Date | null;

  @Field(() => Int, { nullable: true, description: 'Labels taken back by the revocation.' })
  revokedCount: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Older MODEL labels the run had replaced, current again after the revocation.',
  })
  restoredCount: number | null;
}
