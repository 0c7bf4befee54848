import { refreshStatistics } from '../db/statistics';
import crypto from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import {
  ApiKey,
  Dataset,
  ItemSplit,
  LabelSource,
  Model,
  QueryMechanism,
  StreamDecisionKind,
  Task,
  TaskKind,
} from '../entities';
import { ThresholdSource, type AutoLabelParams } from './auto-label.types';
import { BadUserInputError, ConflictError, InputProblem, NotFoundError } from '../errors';
import { authorize, Permission } from './permissions';
import type { EventBus } from './event-bus';
import type { InferencePool } from '../workers/inference.pool';
import { modelRefs } from '../jobs/model-files';
import type { StreamPolicyRegistry } from '../plugins/stream-policies/registry';
import { StreamSession, type StreamState } from './stream-session';
import type { StreamOutcome } from '../plugins/stream-policies/types';
import { DatasetService } from './dataset.service';
import { isUuid, pgCode, PG_UNIQUE_VIOLATION } from '../db/db-errors';
import {
  checkImportItems,
  MAX_IMPORT_VALUES,
  takenExternalIdProblems,
  type ImportItemInput,
} from './item.service';
import { writeCurrentLabels } from './label.service';
import { Conditions, keysetPage, type ListPage, type Page } from './pagination';
import { lockBudget } from './budget';
import { openQueryBatch } from './round-lifecycle';
import * as streamsSql from '../db/sql/streams.sql';
import { run } from '../db/sql/statement';

/** A stream's policy as a caller names it. */
export interface StreamPolicyInput {
  code: string;
  params?: Record<string, unknown> | null;
}

/** The stream a call goes to when it names none. */
export const DEFAULT_STREAM_NAME = 'default';
const MAX_STREAM_NAME_LENGTH = 200;

/** One stored decision. */
export interface StreamDecisionRow {
  id: string;
  datasetId: string;
  streamId: string;
  itemId: string;
  modelId: string;
  decision: StreamDecisionKind;
  score: number;
  threshold: number;
  predictedClass: number;
  queryId: string | null;
  labelId: string | null;
  createdAt: Date;
}

/** A stream as stored. */
export interface StreamRow {
  id: string;
  datasetId: string;
  name: string;
  policy: string;
  params: Record<string, unknown>;
  state: StreamState;
  roundId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface StreamItemsResult {
  /** The stream, after this call (null when the call brought no items and the stream is new). */
  stream: StreamRow | null;
  /** One per item, in input order. */
  decisions: StreamDecisionRow[];
  /** The batch holding this call's queries, if any item was queried. */
  roundId: string | null;
  /** Label units free after this call's queries; null when the dataset has no budget. */
  budgetRemaining: number | null;
}

export interface StreamDecisionFilter {
  stream?: string | null;
  decision?: StreamDecisionKind | null;
}

const OUTCOME_KIND: Record<StreamOutcome, StreamDecisionKind> = {
  QUERIED: StreamDecisionKind.QUERIED,
  ACCEPTED: StreamDecisionKind.AUTO_LABELED,
  DEFERRED: StreamDecisionKind.DEFERRED,
  SKIPPED: StreamDecisionKind.SKIPPED,
};

/** JSON with object keys sorted, so that two equal parameter objects compare equal as text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Stream-based selective sampling: items arrive, the model scores each, and the stream's policy
 * decides, in arrival order, whether a human labels it (QUERIED, spending budget), the model's
 * label is taken (AUTO_LABELED) or the query waits for budget (DEFERRED).
 */
export class StreamService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
    private readonly events: EventBus,
    private readonly inference: InferencePool,
    readonly policies: StreamPolicyRegistry,
    private readonly opts: { maxItems: number; modelCacheDir: string },
  ) {}

  /**
   * Stores the items, scores them with the model (in the inference workers) and decides each
   * with the stream's policy, all or nothing. The stream (per dataset and name) is created on
   * first use with the given policy; later calls must give the same policy and parameters
   * (CONFLICT otherwise). Everything is checked before anything is scored or written.
   */
  async streamItems(
    key: ApiKey,
    datasetId: string,
    modelId: string,
    items: ImportItemInput[],
    policy: StreamPolicyInput,
    streamName: string = DEFAULT_STREAM_NAME,
    certifiedRunId: string | null = null,
  ): Promise<StreamItemsResult> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.MANAGE_ROUNDS);
    // The call imports items and writes MODEL labels as well as queries.
    authorize(key, Permission.WRITE_DATASET, dataset.id);
    authorize(key, Permission.WRITE_LABELS, dataset.id);
    if (streamName.length < 1 || streamName.length > MAX_STREAM_NAME_LENGTH) {
      throw new BadUserInputError(
        `stream must be 1 to ${MAX_STREAM_NAME_LENGTH} characters; got ${streamName.length}.`,
      );
    }
    const params = this.policies.params(policy.code, policy.params);
    await this.checkModel(dataset, modelId);
    const floorOf = certifiedRunId
      ? await this.certifiedFloor(dataset, modelId, certifiedRunId)
      : null;
    const existing = await this.findStream(this.ds.manager, dataset.id, streamName);
    if (existing) this.checkSamePolicy(existing, policy.code, params);
    if (items.length > this.opts.maxItems) {
      throw new BadUserInputError(
        `streamItems takes at most ${this.opts.maxItems} items a call; got ${items.length}. Send them in batches.`,
      );
    }
    if (items.length * dataset.featureDim > MAX_IMPORT_VALUES) {
      throw new BadUserInputError(
        `${items.length} items of ${dataset.featureDim} values are more than one call may carry (${MAX_IMPORT_VALUES} values); send fewer items per call.`,
      );
    }
    if (items.length === 0) {
      return {
        stream: existing,
        decisions: [],
        roundId: null,
        budgetRemaining: await this.ds.transaction(
          async (m) => (await lockBudget(m, dataset.id)).remaining,
        ),
      };
    }
    const { block, truthIndex, problems } = checkImportItems(dataset, items);
    items.forEach((item, index) => {
      const problem = (field: string, message: string) =>
        problems.push({ index, id: item.externalId, field, message });
      if (item.label !== undefined && item.label !== null) {
        problem(
          'label',
          'a streamed item arrives unlabelled: its label is what the stream decides',
        );
      }
      if (item.split !== undefined && item.split !== null && item.split !== ItemSplit.POOL) {
        problem('split', `streamed items join the POOL; got ${item.split}`);
      }
    });
    if (problems.length === 0) await takenExternalIdProblems(this.ds, dataset.id, items, problems);
    if (problems.length > 0) throw BadUserInputError.forProblems('items', problems);

    // Scored before the transaction: on PGlite the one connection must not sit in a transaction
    // while the model is loaded from the database and run.
    const models = await modelRefs(this.ds, [modelId], this.opts.modelCacheDir);
    const scored = await this.inference.score({
      models,
      // A copy: the block is transferred to the worker, and its rows are written afterwards.
      features: block.data.slice(),
      rows: items.length,
      dim: dataset.featureDim,
      embeddings: false,
    });
    if (scored.skipped && scored.skipped.length > 0) {
      // Nothing to decide with: the item is refused rather than stored undecided.
      throw BadUserInputError.forProblems(
        'items',
        Array.from(scored.skipped, (index) => ({
          index,
          id: items[index].externalId,
          field: 'features',
          message: `model ${modelId} gives non-finite outputs (NaN or Infinity) for this item`,
        })),
      );
    }
    const confidences = Float64Array.from(scored.confidence, (c) => Math.min(1, Math.max(0, c)));
    const acceptFloors = floorOf
      ? Float64Array.from(scored.predictedClass, (c) => floorOf(c))
      : undefined;

    try {
      return await this.ds.transaction((m) =>
        this.decideAndStore(m, key, dataset, modelId, items, policy.code, params, streamName, {
          rowBytes: (i) => block.rowBytes(i),
          truthIndex,
          confidences,
          predictedClass: scored.predictedClass,
          acceptFloors,
        }),
      );
    } catch (e) {
      if (pgCode(e) === PG_UNIQUE_VIOLATION) {
        // Another call took some of these external ids between our check and our insert.
        throw new BadUserInputError(
          'Some external ids were imported by another request at the same time; nothing was written. Retry to see which.',
        );
      }
      throw e;
    }
  }

  private async decideAndStore(
    m: EntityManager,
    key: ApiKey,
    dataset: Dataset,
    modelId: string,
    items: ImportItemInput[],
    code: string,
    params: Record<string, unknown>,
    streamName: string,
    scores: {
      rowBytes: (i: number) => Buffer;
      truthIndex: (number | null)[];
      confidences: Float64Array;
      predictedClass: Int16Array;
      acceptFloors?: Float64Array;
    },
  ): Promise<StreamItemsResult> {
    // The stream row is the lock that keeps a stream's decisions in arrival order: made on first
    // use (a racing first call finds the other's row), then locked for the whole call.
    const newId = crypto.randomUUID();
    const fresh = StreamSession.start(this.policies, code, params, newId);
    await run(
      m,
      streamsSql.insertStream({
        id: newId,
        datasetId: dataset.id,
        name: streamName,
        policy: code,
        params: JSON.stringify(params),
        state: JSON.stringify(fresh.state),
      }),
    );
    const stream = (await this.findStream(m, dataset.id, streamName, true))!;
    this.checkSamePolicy(stream, code, params);
    const session =
      stream.id === newId ? fresh : StreamSession.resume(this.policies, code, params, stream.state);

    const budget = await lockBudget(m, dataset.id);
    const free = budget.remaining;
    const problems: InputProblem[] = [];
    await takenExternalIdProblems(m, dataset.id, items, problems);
    if (problems.length > 0) throw BadUserInputError.forProblems('items', problems);

    const inserted: { id: string }[] = await run(
      m,
      streamsSql.insertStreamedItems(dataset.id, {
        externalIds: items.map((i) => i.externalId),
        payloads: items.map((i) => JSON.stringify(i.payload ?? {})),
        features: items.map((_, i) => scores.rowBytes(i)),
        truth: scores.truthIndex,
      }),
    );
    const itemIds = inserted.map((r) => r.id);
    await refreshStatistics(m, 'item', itemIds.length);

    // Each query needs annotationsPerItem answers, each a unit: the session counts queries.
    const k = budget.annotationsPerItem;
    const { steps } = session.decideBatch(
      scores.confidences,
      free === null ? Infinity : Math.floor(free / k),
      scores.acceptFloors,
    );
    const kinds = steps.map((s) => OUTCOME_KIND[s.outcome]);
    const at = (kind: StreamDecisionKind) => kinds.flatMap((x, i) => (x === kind ? [i] : []));
    const queried = at(StreamDecisionKind.QUERIED);
    const accepted = at(StreamDecisionKind.AUTO_LABELED);

    // Stored for every item, so that a query's pre-label (the batch model's prediction) shows.
    await run(
      m,
      streamsSql.insertPredictions(
        modelId,
        itemIds,
        Array.from(scores.predictedClass),
        Array.from(scores.confidences),
      ),
    );
    await refreshStatistics(m, 'prediction', itemIds.length);

    const labelIds = new Map<number, string>();
    if (accepted.length > 0) {
      const ids = await writeCurrentLabels(m, {
        datasetId: dataset.id,
        source: LabelSource.MODEL,
        apiKeyId: key.id,
        itemIds: accepted.map((i) => itemIds[i]),
        classIndexes: accepted.map((i) => scores.predictedClass[i]),
        annotatorIds: accepted.map(() => null),
        confidences: accepted.map((i) => scores.confidences[i]),
        modelId,
        runId: stream.id,
      });
      accepted.forEach((i, j) => labelIds.set(i, ids[j]));
    }

    let roundId: string | null = null;
    const queryIds = new Map<number, string>();
    if (queried.length > 0) {
      const batch = await openQueryBatch(m, this.events, {
        budget,
        mechanism: QueryMechanism.STREAM,
        label: `stream:${code}`,
        params: { stream: streamName, policy: params },
        modelIds: [modelId],
        queries: queried.map((i) => ({
          itemId: itemIds[i],
          // Like the pool strategies' uncertainty: the less sure the model, the higher.
          score: 1 - scores.confidences[i],
          reason: {
            confidence: scores.confidences[i],
            threshold: steps[i].threshold,
            predictedClass: scores.predictedClass[i],
          },
        })),
        createdBy: key.id,
      });
      roundId = batch.roundId;
      queried.forEach((i) => queryIds.set(i, batch.queryIdByItem.get(itemIds[i])!));
    }

    const decisions: StreamDecisionRow[] = await run(
      m,
      streamsSql.insertDecisions(dataset.id, stream.id, modelId, {
        itemIds,
        kinds,
        scores: Array.from(scores.confidences),
        thresholds: steps.map((s) => s.threshold),
        predictedClass: Array.from(scores.predictedClass),
        queryIds: itemIds.map((_, i) => queryIds.get(i) ?? null),
        labelIds: itemIds.map((_, i) => labelIds.get(i) ?? null),
      }),
    );

    // (TypeORM answers an UPDATE ... RETURNING with [rows, count] on pg: read it back instead.)
    await run(m, streamsSql.saveStreamState(stream.id, JSON.stringify(session.state), roundId));
    const saved = await this.findStream(m, dataset.id, streamName);
    return {
      stream: saved,
      decisions,
      roundId,
      budgetRemaining: free === null ? null : free - queried.length * k,
    };
  }

  /**
   * The certified threshold of an auto-label run, by predicted class: BAD_USER_INPUT unless the
   * run is a CERTIFIED run of this dataset and model (its threshold holds for that model only).
   */
  private async certifiedFloor(
    dataset: Dataset,
    modelId: string,
    runId: string,
  ): Promise<(classIndex: number) => number> {
    const task = isUuid(runId)
      ? await this.ds.getRepository(Task).findOneBy({ id: runId, kind: TaskKind.AUTO_LABEL })
      : null;
    const params = task?.params as unknown as AutoLabelParams | undefined;
    const problem = (message: string) =>
      new BadUserInputError(`certifiedRunId: ${message}`, [
        { field: 'certifiedRunId', id: runId, message },
      ]);
    if (!task || task.datasetId !== dataset.id || !params) {
      throw problem('no auto-label run with this id in the dataset');
    }
    if (params.thresholdSource !== ThresholdSource.CERTIFIED || !params.certificate) {
      throw problem('the run has no certified threshold (give it a targetPrecision)');
    }
    if (params.modelId !== modelId) {
      throw problem(`the run certified model ${params.modelId}, not the model scoring this stream`);
    }
    const classThresholds = params.classThresholds ?? null;
    // A class without a certified threshold is never accepted: above every confidence.
    return (c) => (classThresholds ? (classThresholds[c] ?? 1.5) : params.threshold);
  }

  /** BAD_USER_INPUT unless the model is one of the dataset's. */
  private async checkModel(dataset: Dataset, modelId: string): Promise<void> {
    const model = isUuid(modelId)
      ? await this.ds.getRepository(Model).findOne({
          select: { id: true, datasetId: true },
          where: { id: modelId },
        })
      : null;
    if (!model || model.datasetId !== dataset.id) {
      throw new BadUserInputError(
        `modelId: no model ${JSON.stringify(modelId)} in dataset ${dataset.name}. Register or train one first (see models(datasetId)).`,
        [{ field: 'modelId', id: modelId, message: 'no model with this id in the dataset' }],
      );
    }
  }

  private checkSamePolicy(stream: StreamRow, code: string, params: Record<string, unknown>) {
    if (stream.policy !== code || canonicalJson(stream.params) !== canonicalJson(params)) {
      throw new ConflictError(
        `Stream "${stream.name}" is decided by policy "${stream.policy}" with params ${canonicalJson(stream.params)}; this call gives "${code}" with ${canonicalJson(params)}. A stream keeps its policy: give the same one, or name a new stream.`,
      );
    }
  }

  private async findStream(
    m: EntityManager,
    datasetId: string,
    name: string,
    lock = false,
  ): Promise<StreamRow | null> {
    const [row] = await run<StreamRow>(m, streamsSql.findStream(datasetId, name, lock));
    return row ?? null;
  }

  /** A page of a dataset's decisions in the order they were made. */
  readonly decisions: ListPage<StreamDecisionFilter, StreamDecisionRow> = async (
    key,
    datasetId,
    filter,
    first,
    after,
  ) => {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_DATASET);
    const where = new Conditions().add((p) => `dataset_id = ${p}`, dataset.id);
    if (filter.stream !== undefined && filter.stream !== null) {
      const stream = await this.findStream(this.ds.manager, dataset.id, filter.stream);
      if (!stream) throw new NotFoundError('Stream', filter.stream);
      where.add((p) => `stream_id = ${p}`, stream.id);
    }
    if (filter.decision) {
      where.add((p) => `decision = ${p}::stream_decision_kind`, filter.decision);
    }
    return keysetPage<StreamDecisionRow>(this.ds, {
      table: 'stream_decision',
      columns: streamsSql.DECISION_COLUMNS,
      kind: 'streamDecision',
      where,
      first,
      after,
    });
  };

  /** A page of a dataset's streams, by name. */
  async streams(
    key: ApiKey,
    datasetId: string,
    first?: number | null,
    after?: string | null,
  ): Promise<Page<StreamRow>> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_DATASET);
    return keysetPage<StreamRow>(this.ds, {
      ...streamsSql.streamListing(dataset.id),
      kind: 'stream',
      first,
      after,
    });
  }
}
