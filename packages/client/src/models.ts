import type { GraphQLTransport } from './client.js';
import {
  LearningCurveDocument,
  ModelsDocument,
  RegisterModelDocument,
  TrainModelDocument,
  TrainingRunDocument,
  type LearningCurveQuery,
  type ModelFieldsFragment,
  type ModelOutputKind,
  type TrainModelInput,
  type TrainingRunFieldsFragment,
} from './gql/graphql.js';
import { pollUntil, taskFailed, type WaitOptions } from './wait.js';
import { collect, LIST_PAGE_SIZE, paginate, type PageOf } from './pages.js';

export type Model = ModelFieldsFragment;
export type TrainingRun = TrainingRunFieldsFragment;
export type LearningCurvePoint = LearningCurveQuery['learningCurve'][number];

/** What {@link ModelsApi.register} takes besides the dataset. */
export interface RegisterModelInput {
  name: string;
  /** The ONNX file: bytes (a Node Buffer is a Uint8Array), an ArrayBuffer, or a Blob/File. */
  onnx: Uint8Array | ArrayBuffer | Blob;
  inputName?: string;
  outputName?: string;
  outputKind?: ModelOutputKind;
  /** An output of the model to store as each item's embedding (for diversity strategies). */
  embeddingOutput?: string;
}

/** Options of {@link ModelsApi.train}. */
export interface TrainOptions extends WaitOptions {
  /** `'done'` (default): resolve when the run SUCCEEDED; `'QUEUED'`: at once. */
  until?: 'done' | 'QUEUED';
}

/** `client.models`: register, train and compare model versions. */
export class ModelsApi {
  constructor(private readonly t: GraphQLTransport) {}

  /**
   * Registers an ONNX model as the dataset's next version (validated by the server;
   * `BAD_USER_INPUT` with the reason otherwise). Sent as base64 in the JSON body.
   */
  async register(datasetId: string, input: RegisterModelInput): Promise<Model> {
    const { onnx, ...rest } = input;
    const onnxBase64 = await toBase64(onnx);
    return (await this.t.request(RegisterModelDocument, { datasetId, ...rest, onnxBase64 }))
      .registerModel;
  }

  /**
   * Trains a model on the dataset's labels and resolves with the finished run (its `model` is
   * the new version); a run that ends FAILED rejects with `TASK_FAILED` and the server's reason.
   */
  async train(input: TrainModelInput, opts: TrainOptions = {}): Promise<TrainingRun> {
    const { trainModel } = await this.t.request(
      TrainModelDocument,
      { input },
      { signal: opts.signal },
    );
    if (opts.until === 'QUEUED') return trainModel;
    const run = await pollUntil(
      async () => (await this.t.request(TrainingRunDocument, { id: trainModel.id })).trainingRun,
      (r) => r.status === 'SUCCEEDED' || r.status === 'FAILED',
      {
        ...opts,
        pollIntervalMs: opts.pollIntervalMs ?? this.t.pollIntervalMs,
        what: `Training run ${trainModel.id}`,
      },
    );
    if (run.status !== 'SUCCEEDED')
      throw taskFailed(`Training run ${run.id}`, run.status, run.error);
    return run;
  }

  /** One page of a dataset's model versions, oldest first (`first`: 0 to 1000, default 50). */
  async page(datasetId: string, first?: number, after?: string | null): Promise<PageOf<Model>> {
    return (await this.t.request(ModelsDocument, { datasetId, first, after })).models;
  }

  /** Every model version of a dataset, oldest first, fetched a page at a time as you iterate. */
  iterate(datasetId: string, pageSize = LIST_PAGE_SIZE): AsyncGenerator<Model, void, undefined> {
    return paginate((after) => this.page(datasetId, pageSize, after));
  }

  /** Every model version of a dataset, oldest first (all pages). */
  async list(datasetId: string): Promise<Model[]> {
    return collect(this.iterate(datasetId));
  }

  /** Every model version with the human labels it was trained on and its validation metrics. */
  async learningCurve(datasetId: string): Promise<LearningCurvePoint[]> {
    return (await this.t.request(LearningCurveDocument, { datasetId })).learningCurve;
  }
}

/** Base64 without Node's Buffer, so the browser build needs no polyfill. */
export async function toBase64(data: Uint8Array | ArrayBuffer | Blob): Promise<string> {
  const bytes =
    data instanceof Uint8Array
      ? data
      : data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : new Uint8Array(await data.arrayBuffer());
  let binary = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}
