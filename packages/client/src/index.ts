/**
 * `@quarry/client`: a typed client for Quarry's GraphQL API.
 *
 * @example
 * ```ts
 * import { QuarryClient } from '@quarry/client';
 * const client = new QuarryClient({ url: 'http://localhost:4000/graphql', apiKey: process.env.QUARRY_API_KEY });
 * const dataset = await client.datasets.create({ name: 'reviews', classes: ['pos', 'neg'], featureDim: 384 });
 * ```
 *
 * @packageDocumentation
 */
import { GraphQLTransport, type QuarryClientOptions } from './client.js';
import { DatasetsApi } from './datasets.js';
import { ItemsApi, LabelsApi } from './items.js';
import { JobsApi, SubscriptionsApi } from './jobs.js';
import { ModelsApi } from './models.js';
import { QueueApi } from './queue.js';
import { RoundsApi } from './rounds.js';

/**
 * The client: `request` for any operation, and one namespace per job: `datasets`, `items`,
 * `labels`, `models`, `rounds`, `queue` (the annotator loop), `jobs` (auto-labelling,
 * simulations, synthesis, stream sampling) and `subscribe` (live events).
 */
export class QuarryClient extends GraphQLTransport {
  readonly datasets: DatasetsApi;
  readonly items: ItemsApi;
  readonly labels: LabelsApi;
  readonly queue: QueueApi;
  readonly models: ModelsApi;
  readonly rounds: RoundsApi;
  readonly jobs: JobsApi;
  readonly subscribe: SubscriptionsApi;

  constructor(options: QuarryClientOptions) {
    super(options);
    this.datasets = new DatasetsApi(this);
    this.items = new ItemsApi(this);
    this.labels = new LabelsApi(this);
    this.queue = new QueueApi(this);
    this.models = new ModelsApi(this);
    this.rounds = new RoundsApi(this);
    this.jobs = new JobsApi(this);
    this.subscribe = new SubscriptionsApi(this);
  }
}

export { GraphQLTransport } from './client.js';
export type { QuarryClientOptions, RequestOptions, VariablesOf } from './client.js';
export * from './errors.js';
export { DEFAULT_RETRY, type RetryOptions } from './retry.js';
export { DatasetsApi, type Dataset } from './datasets.js';
export {
  ItemsApi,
  LabelsApi,
  parseCsv,
  parseJsonLines,
  type ImportOptions,
  type ImportProgress,
  type Item,
  type Label,
  type PageOptions,
} from './items.js';
export {
  QueueApi,
  type Claim,
  type ClaimOptions,
  type Decision,
  type SubmitResult,
  type WorkOptions,
  type WorkOutcome,
  type WorkReport,
} from './queue.js';
export {
  ModelsApi,
  toBase64,
  type LearningCurvePoint,
  type Model,
  type RegisterModelInput,
  type TrainOptions,
  type TrainingRun,
} from './models.js';
export {
  RoundsApi,
  type Round,
  type RoundProgressEvent,
  type StartRoundOptions,
} from './rounds.js';
export {
  JobsApi,
  SubscriptionsApi,
  type AutoLabelRun,
  type JobOptions,
  type JobProgress,
  type QueueEvent,
  type Simulation,
} from './jobs.js';
export type { WaitOptions } from './wait.js';
export { collect, paginate, LIST_PAGE_SIZE, type PageOf } from './pages.js';
/** Every operation of the SDK as a TypedDocumentNode, with the schema's input and enum types. */
export * from './gql/graphql.js';
export { graphql } from './gql/gql.js';
