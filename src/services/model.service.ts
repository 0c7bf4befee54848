import crypto from 'node:crypto';
import { In, type DataSource } from 'typeorm';
import { ApiKey, Dataset, Model, ModelOutputKind, WebhookEventKind } from '../entities';
import type { EventBus } from './event-bus';
import { packFeatures } from './features';
import { BadUserInputError, NotFoundError, PayloadTooLargeError } from '../errors';
import { authorizeRow, Permission } from './permissions';
import {
  checkModel,
  ModelCheckError,
  type ModelCheckLimits,
  type ModelCheckResult,
} from '../ml/model-check';
import { fitTemperature, temperProbabilities } from '../ml/calibration';
import { classificationMetrics, type ClassificationMetrics } from '../ml/classification-metrics';
import { datasetStopping, prepareStopSet, stoppingRecord, type DatasetStopping } from './stopping';
import { DatasetService } from './dataset.service';
import { isUuid } from '../db/db-errors';
import { lockDataset } from '../db/sql/datasets.sql';
import { sampleFeatures } from '../db/sql/items.sql';
import { humanPoolLabelCount, validationLabels } from '../db/sql/labels.sql';
import { modelListing, modelVersions, nextModelVersion } from '../db/sql/models.sql';
import { entityPage, type Page } from './pagination';
import { run } from '../db/sql/statement';
import { requireLength } from './validate';

export interface RegisterModelInput {
  name: string;
  onnx: Buffer;
  inputName?: string | null;
  outputName?: string | null;
  outputKind?: ModelOutputKind | null;
  embeddingOutput?: string | null;
}

/** Most of the dataset's items a model is tried on when it is registered (drawn at random). */
export const MODEL_CHECK_SAMPLE_ROWS = 1000;

/** Most VALIDATION items a model is measured on when it is registered (the first, by id). */
export const MAX_VALIDATION_ROWS = 20_000;

/** Model columns without the ONNX bytes, for listings. */
const MODEL_COLUMNS = [
  'id',
  'datasetId',
  'name',
  'version',
  'sizeBytes',
  'sha256',
  'inputName',
  'outputName',
  'outputKind',
  'embeddingOutputName',
  'embeddingDim',
  'metrics',
  'temperature',
  'stopping',
  'humanLabels',
  'training',
  'createdBy',
  'createdAt',
] as const;
export type ModelInfo = Pick<Model, (typeof MODEL_COLUMNS)[number]>;
const SELECT_INFO = Object.fromEntries(MODEL_COLUMNS.map((c) => [c, true])) as Record<
  (typeof MODEL_COLUMNS)[number],
  true
>;

/** Models: validated registration of uploaded ONNX files, and listings. */
export class ModelService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
    readonly maxBytes: number,
    private readonly checkLimits: ModelCheckLimits,
    /** Where MODEL_REGISTERED goes (the webhook outbox). */
    private readonly events?: EventBus,
  ) {}

  /** The dataset's stopping signal now (see `src/services/stopping.ts`). */
  async stoppingSignal(key: ApiKey, datasetId: string): Promise<DatasetStopping> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_DATASET);
    return datasetStopping(this.ds, dataset.id);
  }

  /**
   * Validates the model in a child process (loads in onnxruntime, right input width and class
   * count, finite outputs on a test batch) and stores it as the dataset's next version.
   * A model that fails any check is refused with BAD_USER_INPUT and nothing is stored.
   */
  async register(key: ApiKey, datasetId: string, input: RegisterModelInput): Promise<ModelInfo> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.MANAGE_MODELS);
    return this.store(dataset, input, key.id, null);
  }

  /**
   * Validates and stores a model as the dataset's next version, with its metrics on the labelled
   * VALIDATION items. `training` is null for uploads; for trained models it holds the training
   * facts, including `humanLabels` (the HUMAN labels it was trained on).
   */
  async store(
    dataset: Dataset,
    input: RegisterModelInput,
    createdBy: string | null,
    training: (Record<string, unknown> & { humanLabels: number }) | null,
  ): Promise<ModelInfo> {
    const name = requireLength(input.name.trim(), 'name');
    if (input.onnx.length === 0) throw new BadUserInputError('The ONNX file is empty.');
    if (input.onnx.length > this.maxBytes) {
      throw new PayloadTooLargeError(
        `The model is ${input.onnx.length} bytes; the limit is ${this.maxBytes} (QUARRY_MAX_MODEL_BYTES).`,
      );
    }
    const sample = await this.sampleFeatures(dataset.id, dataset.featureDim);
    const evaluate = await this.validationSet(dataset);
    const stopSet = await prepareStopSet(this.ds, dataset);
    const humanLabels = training ? training.humanLabels : await this.humanLabelCount(dataset.id);
    let checked;
    try {
      checked = await checkModel(
        {
          onnx: input.onnx,
          featureDim: dataset.featureDim,
          classCount: dataset.classes.length,
          inputName: input.inputName ?? undefined,
          outputName: input.outputName ?? undefined,
          outputKind: input.outputKind ?? undefined,
          embeddingOutput: input.embeddingOutput ?? undefined,
          sample,
          evaluate,
          predict: stopSet?.features,
        },
        this.checkLimits,
      );
    } catch (e) {
      if (e instanceof ModelCheckError) {
        throw new BadUserInputError(`The model was refused: ${e.message}`);
      }
      throw e;
    }
    const calibrated = calibrate(checked, evaluate, dataset.classes.length);
    const stopping =
      stopSet && checked.predictions
        ? await stoppingRecord(this.ds, dataset, stopSet, checked.predictions)
        : null;
    const sha256 = crypto.createHash('sha256').update(input.onnx).digest('hex');
    const events = this.events;
    const saved = await this.ds.transaction(async (m) => {
      // Serialise version numbering per dataset.
      await run(m, lockDataset(dataset.id));
      const [{ v }] = await run<{ v: number }>(m, nextModelVersion(dataset.id));
      const model = await m.getRepository(Model).save({
        datasetId: dataset.id,
        name,
        version: v,
        onnx: input.onnx,
        sizeBytes: input.onnx.length,
        sha256,
        inputName: checked.inputName,
        outputName: checked.outputName,
        outputKind: checked.outputKind,
        embeddingOutputName: checked.embeddingOutputName,
        embeddingDim: checked.embeddingDim,
        metrics: calibrated.metrics,
        temperature: calibrated.temperature,
        stopping: stopping as unknown as Record<string, unknown> | null,
        humanLabels,
        training,
        createdBy,
      });
      await this.events?.occurred(m, {
        datasetId: dataset.id,
        kind: WebhookEventKind.MODEL_REGISTERED,
        data: { modelId: model.id, name, version: v, trained: training !== null },
      });
      if (stopping?.fired && events) {
        await events.publish(m, {
          type: 'stopping',
          datasetId: dataset.id,
          modelId: model.id,
          version: v,
          meanKappa: stopping.meanKappa!,
        });
      }
      return model;
    });
    return strip(saved);
  }

  /**
   * The dataset's VALIDATION items with a HUMAN or IMPORT label (imported, not synthetic), up to
   * {@link MAX_VALIDATION_ROWS} in item order; undefined when there are none.
   */
  private async validationSet(
    dataset: Dataset,
  ): Promise<{ features: Float32Array; labels: Int32Array } | undefined> {
    const rows = await run<{ features: Buffer; c: number }>(
      this.ds,
      validationLabels(dataset.id, MAX_VALIDATION_ROWS),
    );
    if (rows.length === 0) return undefined;
    const dim = dataset.featureDim;
    const features = packFeatures(rows, dim);
    return { features, labels: Int32Array.from(rows, (r) => r.c) };
  }

  private async humanLabelCount(datasetId: string): Promise<number> {
    const [{ n }] = await run<{ n: number }>(this.ds, humanPoolLabelCount(datasetId));
    return n;
  }

  /**
   * Up to {@link MODEL_CHECK_SAMPLE_ROWS} of the dataset's own vectors, drawn at random, to test
   * the model on (non-finite outputs refuse it); random vectors if the dataset has no items.
   */
  private async sampleFeatures(datasetId: string, dim: number): Promise<Float32Array | undefined> {
    const rows = await run<{ features: Buffer }>(
      this.ds,
      sampleFeatures(datasetId, MODEL_CHECK_SAMPLE_ROWS),
    );
    if (rows.length === 0) return undefined;
    return packFeatures(rows, dim);
  }

  /** A page of a dataset's models, oldest version first (without their ONNX bytes). */
  async list(
    key: ApiKey,
    datasetId: string,
    first?: number | null,
    after?: string | null,
  ): Promise<Page<ModelInfo>> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.MANAGE_MODELS);
    return entityPage(
      this.ds,
      Model,
      { ...modelListing(dataset.id), kind: 'model', first, after },
      (ids) => this.ds.getRepository(Model).find({ select: SELECT_INFO, where: { id: In(ids) } }),
    );
  }

  /** Every model of a dataset, oldest version first: the learning curve's points. */
  async listAll(key: ApiKey, datasetId: string): Promise<ModelInfo[]> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.MANAGE_MODELS);
    return this.ds.getRepository(Model).find({
      select: SELECT_INFO,
      where: { datasetId: dataset.id },
      order: { version: 'ASC' },
    });
  }

  async get(key: ApiKey, id: string): Promise<ModelInfo> {
    const model = isUuid(id)
      ? await this.ds.getRepository(Model).findOne({ select: SELECT_INFO, where: { id } })
      : null;
    if (!model) throw new NotFoundError('Model', id);
    // A model of a dataset outside the key's scope looks like a missing one, as rounds do.
    authorizeRow(key, Permission.MANAGE_MODELS, model.datasetId, 'Model', id);
    return model;
  }

  /**
   * The version of each model, for DataLoader (a pre-label names its model's version; anyone who
   * may see the prediction may see that number, so no permission beyond the prediction's).
   */
  async versionsByIds(ids: readonly string[]): Promise<(number | null)[]> {
    const select = modelVersions(ids.filter(isUuid));
    const rows: { id: string; version: number }[] = await run(this.ds, select);
    const byId = new Map(rows.map((r) => [r.id, r.version]));
    return ids.map((id) => byId.get(id) ?? null);
  }
}

/** Fewest VALIDATION labels a temperature is fitted on; with fewer it stays 1. */
export const MIN_CALIBRATION_ROWS = 20;

/** Calibration facts kept in `model.metrics.calibration`. */
export interface CalibrationFacts {
  temperature: number;
  before: Pick<ClassificationMetrics, 'logLoss' | 'expectedCalibrationError' | 'calibrationBins'>;
  after: Pick<ClassificationMetrics, 'logLoss' | 'expectedCalibrationError' | 'calibrationBins'>;
}

/**
 * Temperature scaling on the VALIDATION labels: the metrics stored are those of the calibrated
 * model (the one every later use sees), with the calibration before and after.
 */
function calibrate(
  checked: ModelCheckResult,
  evaluate: { labels: Int32Array } | undefined,
  classCount: number,
): { temperature: number; metrics: Record<string, unknown> | null } {
  if (!checked.metrics) return { temperature: 1, metrics: null };
  const before = checked.metrics;
  const pick = (m: ClassificationMetrics) => ({
    logLoss: m.logLoss,
    expectedCalibrationError: m.expectedCalibrationError,
    calibrationBins: m.calibrationBins,
  });
  let temperature = 1;
  let after = before;
  if (evaluate && checked.evaluated && evaluate.labels.length >= MIN_CALIBRATION_ROWS) {
    temperature = fitTemperature(checked.evaluated, evaluate.labels, classCount);
    const probabilities = Float64Array.from(checked.evaluated);
    temperProbabilities(probabilities, classCount, temperature);
    after = classificationMetrics(evaluate.labels, probabilities, classCount);
  }
  const calibration: CalibrationFacts = { temperature, before: pick(before), after: pick(after) };
  return { temperature, metrics: { ...after, calibration } as unknown as Record<string, unknown> };
}

function strip(m: Model): ModelInfo {
  const { onnx: _onnx, dataset: _dataset, ...info } = m;
  return info;
}
