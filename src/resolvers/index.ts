import { ApiKeyResolver } from './api-key.resolver';
import { AutoLabelResolver } from './auto-label.resolver';
import { DatasetResolver } from './dataset.resolver';
import { ItemResolver } from './item.resolver';
import { LabelResolver } from './label.resolver';
import { ModelResolver } from './model.resolver';
import { LabelQueryResolver, RoundResolver } from './round.resolver';
import { StrategyResolver } from './strategy.resolver';
import { BudgetMechanismResolver, DatasetBudgetResolver, QueueResolver } from './queue.resolver';
import { SimulationResolver, TrainingResolver } from './task.resolver';
import { ItemSynthesisResolver, SynthesisResolver } from './synthesis.resolver';
import { StreamResolver } from './stream.resolver';

export const RESOLVERS = [
  ApiKeyResolver,
  DatasetResolver,
  ItemResolver,
  LabelResolver,
  ModelResolver,
  RoundResolver,
  LabelQueryResolver,
  StrategyResolver,
  QueueResolver,
  DatasetBudgetResolver,
  BudgetMechanismResolver,
  TrainingResolver,
  SimulationResolver,
  SynthesisResolver,
  ItemSynthesisResolver,
  AutoLabelResolver,
  StreamResolver,
] as const;
