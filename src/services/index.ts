import { RoundCloser } from './round-closer';
import type { Database } from '../db/database';
import type { InferencePool } from '../workers/inference.pool';
import type { QuarryConfig } from '../config';
import { WebhookService } from './webhook.service';
import { ApiKeyService } from './api-key.service';
import { AutoLabelService } from './auto-label.service';
import { DatasetService } from './dataset.service';
import { ItemService } from './item.service';
import { LabelService } from './label.service';
import { ModelService } from './model.service';
import { RoundService } from './round.service';
import { QueueListingService } from './queue-listing.service';
import { ClaimService } from './queue-claim.service';
import { AnswerService } from './queue-answer.service';
import { AgreementService } from './queue-agreement.service';
import { TaskService } from './task.service';
import { SynthesisService } from './synthesis.service';
import type { SynthesisMethodRegistry } from '../plugins/synthesis/registry';
import { StreamService } from './stream.service';
import { ValidationDrawService } from './validation-draw.service';
import type { StreamPolicyRegistry } from '../plugins/stream-policies/registry';
import type { TrainerRegistry } from '../plugins/trainers/registry';
import type { EventBus } from './event-bus';
import type { StrategyRegistry } from '../strategies/registry';
import type { JobQueue } from '../jobs/job-queue';

/** The services behind the resolvers, made once per server. */
export interface Services {
  apiKeys: ApiKeyService;
  datasets: DatasetService;
  items: ItemService;
  labels: LabelService;
  models: ModelService;
  rounds: RoundService;
  /** Label queues: the queue page and batch reads of queries. */
  queues: QueueListingService;
  /** Claims of queries: claim, renew, release, skip (and the budget claims hold). */
  claims: ClaimService;
  /** Answers and their consensus: submit, resolve a tie. */
  answers: AnswerService;
  /** Rounds become CLOSED once their queries are settled (start() it; stop() at shutdown). */
  roundCloser: RoundCloser;
  /** Annotators' agreement on multi-annotator queries. */
  agreements: AgreementService;
  tasks: TaskService;
  synthesis: SynthesisService;
  autoLabels: AutoLabelService;
  streams: StreamService;
  /** Webhooks: registration, delivery log, and the outbox of every dataset event. */
  webhooks: WebhookService;
  /** Seeded random draws of the pool into the VALIDATION split, queued for people. */
  validationDraws: ValidationDrawService;
}

export interface ServiceDeps {
  registry: StrategyRegistry;
  jobs: JobQueue;
  events: EventBus;
  trainers: TrainerRegistry;
  streamPolicies: StreamPolicyRegistry;
  synthesisMethods: SynthesisMethodRegistry;
  /** ONNX inference in worker threads (auto-labelling, stream sampling). */
  inference: InferencePool;
}

export function createServices(db: Database, config: QuarryConfig, deps: ServiceDeps): Services {
  const ds = db.ds;
  const datasets = new DatasetService(ds);
  const models = new ModelService(
    ds,
    datasets,
    config.maxModelBytes,
    {
      timeoutMs: config.modelCheckTimeoutMs,
      maxRssBytes: config.modelCheckMaxRssBytes,
    },
    deps.events,
  );
  const queues = new QueueListingService(ds, datasets);
  const webhooks = new WebhookService(ds, datasets, deps.jobs);
  // Every occurrence (label created, round opened, ...) goes to the webhook outbox.
  deps.events.setOccurrenceSink((m, o) => webhooks.record(m, o));
  const claims = new ClaimService(ds, datasets, queues, deps.events, deps.jobs);
  const roundCloser = new RoundCloser(ds, deps.events);
  return {
    apiKeys: new ApiKeyService(ds, deps.events),
    datasets,
    items: new ItemService(ds, datasets, config.maxImportItems, db.kind),
    labels: new LabelService(ds, datasets, config.maxLabelItems, deps.events),
    models,
    rounds: new RoundService(ds, datasets, deps.registry, deps.jobs, deps.events, {
      shards: config.roundShards,
    }),
    queues,
    claims,
    answers: new AnswerService(ds, datasets, queues, claims, deps.events, webhooks, roundCloser),
    roundCloser,
    agreements: new AgreementService(ds, datasets),
    tasks: new TaskService(ds, datasets, deps.registry, deps.trainers, deps.jobs, models),
    synthesis: new SynthesisService(
      ds,
      datasets,
      deps.synthesisMethods,
      deps.events,
      config.maxImportItems,
    ),
    autoLabels: new AutoLabelService(db, config, datasets, deps.jobs, deps.events, deps.inference),
    streams: new StreamService(ds, datasets, deps.events, deps.inference, deps.streamPolicies, {
      maxItems: config.maxImportItems,
      modelCacheDir: config.modelCacheDir,
    }),
    webhooks,
    validationDraws: new ValidationDrawService(ds, datasets, deps.events),
  };
}
