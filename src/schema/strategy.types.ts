import { Field, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { StrategyKind, StrategyNeed } from './enums';

@ObjectType('Strategy', { description: 'A registered selection strategy (built-in or plugin).' })
export class StrategyNode {
  @Field({ description: 'Stable kebab-case code, e.g. `margin`.' })
  code: string;

  @Field()
  description: string;

  @Field(() => StrategyKind)
  kind: StrategyKind;

  @Field(() => [StrategyNeed], { description: 'What the strategy needs from inference.' })
  needs: StrategyNeed[];

  @Field(() => GraphQLJSON, { description: 'JSON Schema of the parameters, with their defaults.' })
  paramsSchema: Record<string, unknown>;

  @Field(() => GraphQLJSON, { description: 'The parameters a round gets when it gives none.' })
  defaults: Record<string, unknown>;
}
