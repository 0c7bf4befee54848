import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { RoundNode } from './round.types';

@InputType({
  description:
    'A seeded random draw of the unlabelled pool into the VALIDATION split, queued for people to label.',
})
export class DrawValidationSampleInput {
  @Field(() => ID)
  datasetId: string;

  @Field(() => Int, { description: 'How many items to draw, 1 to 10,000.' })
  size: number;

  @Field(() => Int, {
    nullable: true,
    description:
      'Seeds the draw (the same seed on the same pool draws the same items); random when not given.',
  })
  seed?: number | null;
}

@ObjectType('ValidationDraw', {
  description:
    'Items drawn uniformly at random from the imported POOL items that were unlabelled and not queued, moved to the VALIDATION split and queued in one batch of mechanism VALIDATION. Their labels are an unbiased sample for certifying auto-labels.',
})
export class ValidationDrawNode {
  @Field(() => ID)
  roundId: string;

  @Field(() => RoundNode, { description: 'The batch holding the queries (mechanism VALIDATION).' })
  round: RoundNode;

  @Field(() => Int)
  seed: number;

  @Field(() => [ID], { description: 'The drawn items, in id order.' })
  itemIds: string[];

  @Field(() => Int, { description: 'Pool items the draw was made from.' })
  poolSize: number;
}
