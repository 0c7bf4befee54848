import { ApiKeyResolver } from './api-key.resolver';
import { AutoLabelResolver } from './auto-label.resolver';
import { DatasetResolver } from './dataset.resolver';
import { ItemResolver } from './item.resolver';
import { LabelResolver } from './label.resolver';
import { ModelResolver, PredictionResolver } from './model.resolver';
import { RoundResolver } from './round.resolver';
import { StrategyResolver } from './strategy.resolver';
import { BudgetMechanismResolver, QueueResolver } from './queue.resolver';
import { SimulationResolver, TrainingResolver } from './task.resolver';
import { SynthesisResolver } from './synthesis.resolver';
import { StreamResolver } from './stream.resolver';
import { WebhookResolver } from './webhook.resolver';
import { ValidationDrawResolver } from './validation-draw.resolver';
import { StoppingResolver } from './stopping.resolver';

export const RESOLVERS = [
  ApiKeyResolver,
  DatasetResolver,
  ItemResolver,
  LabelResolver,
  ModelResolver,
  PredictionResolver,
  RoundResolver,
  StrategyResolver,
  QueueResolver,
  BudgetMechanismResolver,
  TrainingResolver,
  SimulationResolver,
  SynthesisResolver,
  AutoLabelResolver,
  StreamResolver,
  WebhookResolver,
  ValidationDrawResolver,
  StoppingResolver,
] as const;
