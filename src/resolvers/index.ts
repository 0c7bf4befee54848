import { ApiKeyResolver } from './ApiKeyResolver';
import { AutoLabelResolver } from './AutoLabelResolver';
import { DatasetResolver } from './DatasetResolver';
import { ItemResolver } from './ItemResolver';
import { LabelResolver } from './LabelResolver';
import { ModelResolver } from './ModelResolver';
import { LabelQueryResolver, RoundResolver } from './RoundResolver';
import { StrategyResolver } from './StrategyResolver';
import { BudgetMechanismResolver, DatasetBudgetResolver, QueueResolver } from './QueueResolver';
import { SimulationResolver, TrainingResolver } from './TaskResolver';
import { ItemSynthesisResolver, SynthesisResolver } from './SynthesisResolver';
import { StreamResolver } from './StreamResolver';

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
