import crypto from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ApiKey, Dataset, Model, ModelOutputKind } from '../entities';
import { packFeatures } from './features';
import { BadUserInputError, NotFoundError, PayloadTooLargeError } from '../errors';
import { Permission } from './permissions';
import { checkModel, ModelCheckError, ModelCheckLimits } from '../ml/model-check';
import { DatasetService } from './dataset.service';
import { isUuid } from '../db/db-errors';
import { lockDataset } from '../db/sql/datasets.sql';
import { sampleFeatures } from '../db/sql/items.sql';
import { humanPoolLabelCount, validationLabels } from '../db/sql/labels.sql';
import { modelVersions, nextModelVersion } from '../db/sql/models.sql';
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
  ) {}

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
        },
        this.checkLimits,
      );
    } catch (e) {
      if (e instanceof ModelCheckError) {
        throw new BadUserInputError(`The model was refused: ${e.message}`);
      }
      throw e;
    }
    const sha256 = crypto.createHash('sha256').update(input.onnx).digest('hex');
    const saved = await this.ds.transaction(async (m) => {
      // Serialise version numbering per dataset.
      await run(m, lockDataset(dataset.id));
      const [{ v }] = await run<{ v: number }>(m, nextModelVersion(dataset.id));
      return m.getRepository(Model).save({
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
        metrics: (checked.metrics as unknown as Record<string, unknown>) ?? null,
        humanLabels,
        training,
        createdBy,
      });
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

  /** A few stored vectors of the dataset to test the model on (random ones if it has none). */
  private async sampleFeatures(datasetId: string, dim: number): Promise<Float32Array | undefined> {
    const rows = await run<{ features: Buffer }>(this.ds, sampleFeatures(datasetId));
    if (rows.length === 0) return undefined;
    return packFeatures(rows, dim);
  }

  async list(key: ApiKey, datasetId: string): Promise<ModelInfo[]> {
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
    await this.datasets.getAuthorized(key, model.datasetId, Permission.MANAGE_MODELS);
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

function strip(m: Model): ModelInfo {
  const { onnx: _onnx, dataset: _dataset, ...info } = m;
  return info;
}
