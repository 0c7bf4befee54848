import type { MigrationInterface } from 'typeorm';
import { InitialSchema1795291952751 } from '../../migrations/1795291952751-initial-schema';
import { RoundsPredictions1795295012133 } from '../../migrations/1795295012133-rounds-predictions';
import { RoundHeartbeat1795297860891 } from '../../migrations/1795297860891-round-heartbeat';
import { LabelQueues1795298973454 } from '../../migrations/1795298973454-label-queues';
import { TrainersSimulation1795301123921 } from '../../migrations/1795301123921-trainers-simulation';
import { AutoLabelStreamSynthesis1795302469268 } from '../../migrations/1795302469268-auto-label-stream-synthesis';
import { RoundItemsSkipped1795304517000 } from '../../migrations/1795304517000-round-items-skipped';
import { TaskHeartbeatRoundQueryRank1796145093796 } from '../../migrations/1796145093796-task-heartbeat-round-query-rank';
import { Webhooks1796145478456 } from '../../migrations/1796145478456-webhooks';
import { CalibrationStoppingValidationDraws1796145018323 } from '../../migrations/1796145018323-calibration-stopping-validation-draws';
import { DatasetPoolItems1795310000000 } from '../../migrations/1795310000000-dataset-pool-items';
import { WebAppDatasetDisplay1796145044843 } from '../../migrations/1796145044843-web-app-dataset-display';
import { ApiKeyCreatedIndex1796150000000 } from '../../migrations/1796150000000-api-key-created-index';
import { RoundShards1796155705854 } from '../../migrations/1796155705854-round-shards';
import { RoundShardHeartbeat1796160000000 } from '../../migrations/1796160000000-round-shard-heartbeat';

/** Every migration, in order, listed explicitly (no globs). */
export const MIGRATIONS: (new () => MigrationInterface)[] = [
  InitialSchema1795291952751,
  RoundsPredictions1795295012133,
  RoundHeartbeat1795297860891,
  LabelQueues1795298973454,
  TrainersSimulation1795301123921,
  AutoLabelStreamSynthesis1795302469268,
  RoundItemsSkipped1795304517000,
  TaskHeartbeatRoundQueryRank1796145093796,
  Webhooks1796145478456,
  CalibrationStoppingValidationDraws1796145018323,
  DatasetPoolItems1795310000000,
  WebAppDatasetDisplay1796145044843,
  ApiKeyCreatedIndex1796150000000,
  RoundShards1796155705854,
  RoundShardHeartbeat1796160000000,
];
