import { Field, ObjectType } from 'type-graphql';
import { ItemNode } from './item.types';
import { RoundNode } from './round.types';
import { PluginType } from './base.types';

@ObjectType('SynthesisMethod', {
  description: 'A membership-query synthesis method: how synthesizeItems makes new items.',
})
export class SynthesisMethodNode extends PluginType('SynthesisMethod', {
  code: 'What synthesizeItems takes as method, e.g. `smote`.',
  defaults: 'The parameters a request gets when it gives none.',
}) {}

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
