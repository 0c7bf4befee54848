/**
 * The shapes of auto-labelling: its input, what a run stores as params and result, and its view.
 * Apart from the service so that the run's job (`src/jobs/auto-label.task.ts`) and the service
 * share them without importing each other.
 */
import type { Task } from '../entities';

/** How an auto-label run's threshold was set. */
export enum ThresholdSource {
  /** Given by the caller. */
  FIXED = 'FIXED',
  /**
   * Runs made before certification: the lowest threshold whose point estimate of precision on the
   * validation items reached the target.
   */
  TARGET_PRECISION = 'TARGET_PRECISION',
  /**
   * Certified: the lowest candidate threshold whose exact lower bound of precision on the
   * human-labelled validation items reaches the target at the asked confidence (Learn-then-Test).
   */
  CERTIFIED = 'CERTIFIED',
}

/** The confidence of a certificate when the caller gives none. */
export const DEFAULT_CERTIFICATION_CONFIDENCE = 0.95;

/** One class's certified threshold, with per-class thresholds. */
export interface ClassCertificate {
  classIndex: number;
  value: string;
  /** Null: nothing could be certified for this class, and it gets no auto-labels. */
  threshold: number | null;
  n: number;
  errors: number;
  bound: number;
  /** The error rate of this class's test: delta / classes. */
  delta: number;
}

/**
 * The guarantee of a certified run: with probability at least `confidence`, the precision of its
 * auto-labels is at least `target` (for items drawn like the validation items).
 */
export interface AutoLabelCertificate {
  target: number;
  confidence: number;
  perClass: boolean;
  /** Human-labelled VALIDATION items judged on. */
  validationLabels: number;
  /** Of those, items drawn at random from the pool by drawValidationSample. */
  drawnLabels: number;
  /** The chosen threshold (the lowest class threshold with perClass). */
  threshold: number;
  /**
   * Validation items at or above the threshold, their errors and the exact lower bound of their
   * precision (with perClass: the sums over certified classes, and the lowest class bound).
   */
  n: number;
  errors: number;
  bound: number;
  /** With perClass, one entry per class. */
  classes: ClassCertificate[] | null;
}

export interface AutoLabelInput {
  datasetId: string;
  modelId: string;
  /** Label items whose top-class probability is at least this; exclusive with targetPrecision. */
  threshold?: number | null;
  /** Certify a threshold reaching this precision on the validation items; exclusive with threshold. */
  targetPrecision?: number | null;
  /** Share of the new labels queued for human audit, 0 to 1. */
  auditRate: number;
  /** Seeds the audit draw; random when not given. */
  seed?: number | null;
  /** With targetPrecision: the confidence of the guarantee, in (0, 1). Default 0.95. */
  confidence?: number | null;
  /** With targetPrecision: certify a threshold per predicted class. Default false. */
  perClassThresholds?: boolean | null;
}

/** The model's labels on the human-labelled validation items at the run's threshold. */
export interface ValidationFacts {
  /** Validation items with a HUMAN or IMPORT label. */
  total: number;
  /** Of those, the ones at or above the threshold. */
  count: number;
  correct: number;
  precision: number | null;
  coverage: number;
  lower: number;
  upper: number;
}

/** What an auto-label task stores as its params. */
export interface AutoLabelParams {
  modelId: string;
  threshold: number;
  thresholdSource: ThresholdSource;
  targetPrecision: number | null;
  auditRate: number;
  seed: number;
  /** Null when the dataset has no human-labelled validation items. */
  validation: ValidationFacts | null;
  /** The guarantee, for a CERTIFIED run. */
  certificate?: AutoLabelCertificate | null;
  /**
   * Per class index, the threshold its items must reach (null: the class is not labelled); when
   * absent, `threshold` applies to every class.
   */
  classThresholds?: (number | null)[] | null;
}

/** What an auto-label task stores as its result. */
export interface AutoLabelResult {
  /** POOL items scored (unlabelled and not queued when the run started). */
  scored: number;
  /** Of those, the ones at or above the threshold. */
  aboveThreshold: number;
  labelledCount: number;
  /** Above the threshold, but labelled by a person or queued while the run scored. */
  skipped: number;
  /** Scored, but the model's outputs were not finite (NaN or Infinity): not labelled. */
  nonFinite?: number;
  /** Labels written per class index. */
  labelledByClass: number[];
  auditCount: number;
  auditRoundId: string | null;
  seed: number;
  revokedAt?: string;
  revokedBy?: string;
  /** The run's labels that were current when it was revoked (superseded then). */
  revokedCount?: number;
  /** Older MODEL labels the run had replaced, current again. */
  restoredCount?: number;
  /** Open audit queries cancelled by the revocation. */
  cancelledAudits?: number;
}

/** An agreement rate with its exact (Clopper-Pearson) 95% interval. */
export interface AgreementStats {
  audited: number;
  agreed: number;
  rate: number | null;
  lower: number;
  upper: number;
}

export interface ClassAgreementStats extends AgreementStats {
  value: string;
  classIndex: number;
  /** The run's labels of this class. */
  labelled: number;
}

/** An auto-label run as the API shows it. */
export interface AutoLabelRunView {
  task: Task;
  params: AutoLabelParams;
  result: AutoLabelResult | null;
  audit: AgreementStats | null;
  auditByClass: ClassAgreementStats[];
}
