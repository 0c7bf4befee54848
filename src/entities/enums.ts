/** Persistence enums shared by entities and the GraphQL schema. */

export enum ItemSplit {
  POOL = 'POOL',
  VALIDATION = 'VALIDATION',
  TEST = 'TEST',
}

export enum ItemOrigin {
  IMPORTED = 'IMPORTED',
  SYNTHETIC = 'SYNTHETIC',
}

/** Who made a label. Stored as text so later sources need no type change. */
export enum LabelSource {
  HUMAN = 'HUMAN',
  MODEL = 'MODEL',
  IMPORT = 'IMPORT',
}

/** When an item has current labels from several sources, the highest rank is its label. */
export const LABEL_SOURCE_RANK: Record<LabelSource, number> = {
  [LabelSource.HUMAN]: 3,
  [LabelSource.IMPORT]: 2,
  [LabelSource.MODEL]: 1,
};

/** How a labelling page shows an item's payload (or the dataset's payload field of it). */
export enum PayloadKind {
  /** Text as text, an image URL as an image, an object as a table. */
  AUTO = 'AUTO',
  TEXT = 'TEXT',
  IMAGE_URL = 'IMAGE_URL',
  TABLE = 'TABLE',
  /** A list of numbers drawn as a square grey-level image (e.g. 8x8 digits). */
  PIXELS = 'PIXELS',
}

export enum ModelOutputKind {
  PROBABILITIES = 'PROBABILITIES',
  LOGITS = 'LOGITS',
}

export enum RoundStatus {
  QUEUED = 'QUEUED',
  SCORING = 'SCORING',
  SELECTING = 'SELECTING',
  OPEN = 'OPEN',
  CLOSED = 'CLOSED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

export enum LabelQueryStatus {
  OPEN = 'OPEN',
  ANSWERED = 'ANSWERED',
  /** Every annotator answered, but the most frequent answer is shared by two classes or more. */
  NEEDS_REVIEW = 'NEEDS_REVIEW',
  SKIPPED = 'SKIPPED',
  CANCELLED = 'CANCELLED',
}

export enum ApiKeyRole {
  ADMIN = 'ADMIN',
  SERVICE = 'SERVICE',
  ANNOTATOR = 'ANNOTATOR',
}

export enum TaskKind {
  TRAIN = 'TRAIN',
  SIMULATE = 'SIMULATE',
  AUTO_LABEL = 'AUTO_LABEL',
}

/** What made a batch of label queries, and so what its answers spend the budget on. */
/**
 * How a pool round chose its queries: in one process, or scored in shards (id ranges of the
 * pool, each a job any process may run) and merged by the process that opens the round.
 */
export enum SelectionMethod {
  /** One process scored the whole pool and selected (the default). */
  SINGLE_PROCESS = 'SINGLE_PROCESS',
  /**
   * Pointwise strategies: each shard kept its exact top N by score (ties: lower item id first),
   * and the merge kept the top N of their union: the same picks as one process.
   */
  SHARDED_TOP_N = 'SHARDED_TOP_N',
  /**
   * Batch strategies: each shard ran the strategy over its range and proposed N items, then the
   * strategy ran again over the union of the proposals (two-stage; for k-center the distributed
   * greedy of Malkomes et al. 2015: within 4x of the optimal radius, against 2x for one process).
   */
  SHARDED_TWO_STAGE = 'SHARDED_TWO_STAGE',
}

export enum QueryMechanism {
  /** A pool-based round chosen by a strategy. */
  POOL_ROUND = 'POOL_ROUND',
  /** Stream-based selective sampling: items the model was unsure of as they arrived. */
  STREAM = 'STREAM',
  /** Human audit of auto-labels. */
  AUDIT = 'AUDIT',
  /** Membership query synthesis: generated items. */
  SYNTHESIS = 'SYNTHESIS',
  /** A seeded random draw of the pool into the VALIDATION split (drawValidationSample). */
  VALIDATION = 'VALIDATION',
}

/** What stream-based selective sampling decided for one arriving item. */
export enum StreamDecisionKind {
  /** The model was unsure: queued for a human (spends budget). */
  QUERIED = 'QUERIED',
  /** The model was sure enough: it got a MODEL label. */
  AUTO_LABELED = 'AUTO_LABELED',
  /** It would have been queried, but the budget was spent. */
  DEFERRED = 'DEFERRED',
  /**
   * Below the threshold in force, but the policy's pacing held the query back (or the stream's
   * certified threshold was not reached): neither labelled nor queried.
   */
  SKIPPED = 'SKIPPED',
}

export enum TaskStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
}

/** What a webhook can hear of. */
export enum WebhookEventKind {
  /** Labels were written (by a person, a script or an import; model labels: AUTO_LABEL_FINISHED). */
  LABEL_CREATED = 'LABEL_CREATED',
  /** A query got an answer. */
  QUERY_ANSWERED = 'QUERY_ANSWERED',
  ROUND_OPENED = 'ROUND_OPENED',
  ROUND_CLOSED = 'ROUND_CLOSED',
  MODEL_REGISTERED = 'MODEL_REGISTERED',
  /** An auto-label run ended (SUCCEEDED or FAILED). */
  AUTO_LABEL_FINISHED = 'AUTO_LABEL_FINISHED',
  /** A request was refused because the dataset's label budget is spent. */
  BUDGET_EXHAUSTED = 'BUDGET_EXHAUSTED',
  /** Sent by `testWebhook` only. */
  PING = 'PING',
}

export enum WebhookDeliveryStatus {
  /** Not sent yet, or failed and waiting for a retry. */
  PENDING = 'PENDING',
  /** Answered with a 2xx status. */
  SUCCEEDED = 'SUCCEEDED',
  /** Every attempt failed. */
  FAILED = 'FAILED',
}
