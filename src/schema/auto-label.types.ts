import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ConnectionType } from './connection';
import { TaskStatus } from './enums';
import { TaskRunNode } from './base.types';
import { ThresholdSource } from '../services/auto-label.service';

registerEnumType(ThresholdSource, {
  name: 'ThresholdSource',
  description:
    "How an auto-label run's threshold was set: FIXED (given); CERTIFIED (the lowest candidate threshold whose exact Clopper-Pearson lower bound of precision on the human-labelled VALIDATION items reaches the target at the asked confidence, by fixed-sequence testing: Learn-then-Test); TARGET_PRECISION (runs made before certification: the lowest threshold whose point estimate reached the target).",
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
      'Certify the threshold: with probability at least `confidence`, the precision of the auto-labels is at least this, in (0, 1). Candidate thresholds are fixed in advance and tested from the highest down (fixed-sequence testing, Learn-then-Test) with exact Clopper-Pearson bounds on the human-labelled VALIDATION items (imported as VALIDATION or drawn at random by drawValidationSample; never items picked by rounds); the lowest certified one is used. When none can be certified, BAD_USER_INPUT says about how many more validation labels would be needed (extensions.validationLabelsNeeded) and nothing is labelled.',
  })
  targetPrecision?: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'With targetPrecision: the confidence of the guarantee, in (0, 1). Default 0.95.',
  })
  confidence?: number | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      'With targetPrecision: certify one threshold per predicted class, each at (1 - confidence) / classes (Bonferroni), so that all hold together; a class with no certified threshold gets no labels. Default false.',
  })
  perClassThresholds?: boolean | null;

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

  @Field(() => Float, {
    description: "Lower end of the precision's exact (Clopper-Pearson) 95% interval.",
  })
  lower: number;

  @Field(() => Float, {
    description: "Upper end of the precision's exact (Clopper-Pearson) 95% interval.",
  })
  upper: number;
}

@ObjectType('AutoLabelClassCertificate', {
  description: "One class's certified threshold (runs with perClassThresholds).",
})
export class AutoLabelClassCertificateNode {
  @Field({ description: 'The class name.' })
  value: string;

  @Field(() => Int)
  classIndex: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Null: nothing could be certified for this class, which gets no labels.',
  })
  threshold: number | null;

  @Field(() => Int, { description: 'Validation items of this predicted class at or above it.' })
  n: number;

  @Field(() => Int)
  errors: number;

  @Field(() => Float, { description: 'Exact lower bound of their precision at 1 - delta.' })
  bound: number;

  @Field(() => Float, {
    description: "The error rate of this class's test: (1 - confidence) / classes.",
  })
  delta: number;
}

@ObjectType('AutoLabelCertificate', {
  description:
    'The guarantee of a CERTIFIED run: with probability at least `confidence`, the precision of its auto-labels is at least `target`, judged only on human-labelled VALIDATION items (imported as VALIDATION or drawn at random from the pool by drawValidationSample), never on items that rounds picked.',
})
export class AutoLabelCertificateNode {
  @Field(() => Float)
  target: number;

  @Field(() => Float)
  confidence: number;

  @Field()
  perClass: boolean;

  @Field(() => Int, { description: 'Human-labelled VALIDATION items judged on.' })
  validationLabels: number;

  @Field(() => Int, {
    description: 'Of those, items drawn at random from the pool by drawValidationSample.',
  })
  drawnLabels: number;

  @Field(() => Float, {
    description: 'The certified threshold (the lowest class threshold with perClass).',
  })
  threshold: number;

  @Field(() => Int, {
    description: 'Validation items at or above the threshold (summed over certified classes).',
  })
  n: number;

  @Field(() => Int, { description: 'Of those, the ones the model got wrong.' })
  errors: number;

  @Field(() => Float, {
    description:
      'Exact one-sided Clopper-Pearson lower bound of their precision at the confidence (the lowest class bound with perClass); at least target.',
  })
  bound: number;

  @Field(() => [AutoLabelClassCertificateNode], { nullable: true })
  classes: AutoLabelClassCertificateNode[] | null;
}

@ObjectType('AutoLabelAudit', {
  description:
    "How often people's answers to the run's ANSWERED audit queries agree with its MODEL labels, with an exact (Clopper-Pearson) 95% interval.",
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

  @Field(() => AutoLabelCertificateNode, {
    nullable: true,
    description: 'The guarantee of a CERTIFIED run; null for other runs.',
  })
  certificate: AutoLabelCertificateNode | null;

  @Field(() => [Float], {
    nullable: 'itemsAndList',
    description:
      'With per-class thresholds: the threshold of each class index (null: the class gets no labels).',
  })
  classThresholds: (number | null)[] | null;

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

@ObjectType({ description: "A page of a dataset's auto-label runs, newest first." })
export class AutoLabelRunConnection extends ConnectionType(AutoLabelRunNode, 'AutoLabelRun') {}
