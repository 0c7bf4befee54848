import type { MigrationInterface } from 'typeorm';
import { InitialSchema1795291952751 } from '../../migrations/1795291952751-initial-schema';
import { RoundsPredictions1795295012133 } from '../../migrations/1795295012133-rounds-predictions';
import { RoundHeartbeat1795297860891 } from '../../migrations/1795297860891-round-heartbeat';
import { LabelQueues1795298973454 } from '../../migrations/1795298973454-label-queues';
import { TrainersSimulation1795301123921 } from '../../migrations/1795301123921-trainers-simulation';
import { AutoLabelStreamSynthesis1795302469268 } from '../../migrations/1795302469268-auto-label-stream-synthesis';
import { WebAppDatasetDisplay1796145044843 } from '../../migrations/1796145044843-web-app-dataset-display';

/** Every migration, in order, listed explicitly (no globs). */
export const MIGRATIONS: (new () => MigrationInterface)[] = [
  InitialSchema1795291952751,
  RoundsPredictions1795295012133,
  RoundHeartbeat1795297860891,
  LabelQueues1795298973454,
  TrainersSimulation1795301123921,
  AutoLabelStreamSynthesis1795302469268,
  WebAppDatasetDisplay1796145044843,
];
