import { GraphQLJSON } from 'graphql-scalars';
import { Field, ObjectType } from 'type-graphql';
import { ItemNode } from './item.types';
import { RoundNode } from './round.types';

@ObjectType('SynthesisMethod', {
  description: 'A membership-query synthesis method: how synthesizeItems makes new items.',
})
export class SynthesisMethodNode {
  @Field({ description: 'What synthesizeItems takes as method, e.g. `smote`.' })
  code: string;

  @Field()
  description: string;

  @Field(() => GraphQLJSON, { description: 'JSON Schema of the parameters, with their defaults.' })
  paramsSchema: Record<string, unknown>;

  @Field(() => GraphQLJSON, { description: 'The parameters a request gets when it gives none.' })
  defaults: Record<string, unknown>;
}

@ObjectType('SynthesizeItemsResult', {
  description:
    'The synthetic items made, and the SYNTHESIS batch of queries that asks for their labels.',
})
export class SynthesizeItemsResult {
  @Field(() => [ItemNode], {
    description: 'The new items (origin SYNTHETIC, split POOL), in the order made.',
  })
  items: ItemNode[];

  @Field(() => RoundNode, {
    description: 'The OPEN batch (mechanism SYNTHESIS) holding one query per item.',
  })
  round: RoundNode;
}
