import type { Database } from '../db/database';
import type { InferencePool } from '../inference/pool';
import type { QuarryConfig } from '../config';
import { ApiKeyService } from './ApiKeyService';
import { AutoLabelService } from './AutoLabelService';
import { DatasetService } from './DatasetService';
import { ItemService } from './ItemService';
import { LabelService } from './LabelService';
import { ModelService } from './ModelService';
import { RoundService } from './RoundService';
import { QueueService } from './QueueService';
import { TaskService } from './TaskService';
import { SynthesisService } from './SynthesisService';
import { loadSynthesisMethods } from '../synthesis/registry';
import { StreamService } from './StreamService';
import { loadStreamPolicies } from '../stream/registry';
import type { TrainerRegistry } from '../trainers/registry';
import type { EventBus } from '../events/bus';
import type { StrategyRegistry } from '../strategies/registry';
import type { JobQueue } from '../jobs/queue';

/** The services behind the resolvers, made once per server. */
export interface Services {
  apiKeys: ApiKeyService;
  datasets: DatasetService;
  items: ItemService;
  labels: LabelService;
  models: ModelService;
  rounds: RoundService;
  queues: QueueService;
  tasks: TaskService;
  synthesis: SynthesisService;
  autoLabels: AutoLabelService;
  streams: StreamService;
}

export interface ServiceDeps {
  registry: StrategyRegistry;
  jobs: JobQueue;
  events: EventBus;
  trainers: TrainerRegistry;
  /** ONNX inference in worker threads (auto-labelling, stream sampling). */
  inference: InferencePool;
}

export function createServices(db: Database, config: QuarryConfig, deps: ServiceDeps): Services {
  const ds = db.ds;
  const datasets = new DatasetService(ds);
  const models = new ModelService(ds, datasets, config.maxModelBytes, {
    timeoutMs: config.modelCheckTimeoutMs,
    maxRssBytes: config.modelCheckMaxRssBytes,
  });
  return {
    apiKeys: new ApiKeyService(ds),
    datasets,
    items: new ItemService(ds, datasets, config.maxImportItems),
    labels: new LabelService(ds, datasets, config.maxLabelItems),
    models,
    rounds: new RoundService(ds, datasets, deps.registry, deps.jobs, deps.events),
    queues: new QueueService(ds, datasets, deps.events),
    tasks: new TaskService(ds, datasets, deps.registry, deps.trainers, deps.jobs, models),
    synthesis: new SynthesisService(
      ds,
      datasets,
      loadSynthesisMethods(config.synthesisModules),
      deps.events,
      config.maxImportItems,
    ),
    autoLabels: new AutoLabelService(db, config, datasets, deps.jobs, deps.events, deps.inference),
    streams: new StreamService(
      ds,
      datasets,
      deps.events,
      deps.inference,
      loadStreamPolicies(config.streamPolicyModules),
      { maxItems: config.maxImportItems, modelCacheDir: config.modelCacheDir },
    ),
  };
}
