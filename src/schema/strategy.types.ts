import { Field, ObjectType } from 'type-graphql';
import { StrategyKind, StrategyNeed } from './enums';
import { PluginType } from './base.types';

@ObjectType('Strategy', { description: 'A registered selection strategy (built-in or plugin).' })
export class StrategyNode extends PluginType('Strategy', {
  code: 'Stable kebab-case code, e.g. `margin`.',
  defaults: 'The parameters a round gets when it gives none.',
}) {
  @Field(() => StrategyKind)
  kind: StrategyKind;

  @Field(() => [StrategyNeed], { description: 'What the strategy needs from inference.' })
  needs: StrategyNeed[];
}
