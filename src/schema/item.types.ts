import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { ItemOrigin, ItemSplit } from './enums';
import { ConnectionType } from './connection';
import { DatasetRecordNode } from './base.types';

@ObjectType('Item', {
  description: 'One thing to label: its payload for people, its feature vector for models.',
})
export class ItemNode extends DatasetRecordNode {
  @Field({ description: "The id the item has in the user's own systems; unique per dataset." })
  externalId: string;

  @Field(() => GraphQLJSON, {
    description: 'Whatever an annotator needs to see: text, an image URL, a record.',
  })
  payload: unknown;

  @Field(() => ItemSplit)
  split: ItemSplit;

  @Field(() => ItemOrigin)
  origin: ItemOrigin;
}

@ObjectType()
export class ItemConnection extends ConnectionType(ItemNode, 'Item') {}

@ObjectType()
export class ImportItemsResult {
  @Field(() => Int)
  importedCount: number;

  @Field(() => Int, { description: 'How many imported items came with a label.' })
  labelledCount: number;

  @Field(() => [ID], { description: "The new items' ids, in input order." })
  itemIds: string[];
}

@InputType({
  description:
    'One item to import. Give features as a list of floats or as base64 of little-endian float32.',
})
export class ImportItemInput {
  @Field()
  externalId: string;

  @Field(() => GraphQLJSON, { nullable: true })
  payload?: unknown;

  @Field(() => [Float], { nullable: true })
  features?: number[] | null;

  @Field(() => String, {
    nullable: true,
    description: 'Base64 of featureDim little-endian float32 values (the fast path).',
  })
  featuresBase64?: string | null;

  @Field(() => ItemSplit, { nullable: true, defaultValue: ItemSplit.POOL })
  split?: ItemSplit | null;

  @Field(() => String, {
    nullable: true,
    description: 'A class name: the item arrives labelled (source IMPORT).',
  })
  label?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'A class name kept hidden as ground truth: no query, queue, strategy or export ever shows it; only simulate (as the oracle) and evaluation read it.',
  })
  groundTruth?: string | null;
}

@InputType()
export class ItemFilter {
  @Field(() => ItemSplit, { nullable: true })
  split?: ItemSplit | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'true: only items with a current label; false: only items without.',
  })
  labelled?: boolean | null;

  @Field(() => [String], { nullable: true })
  externalIds?: string[] | null;

  @Field(() => ItemOrigin, { nullable: true })
  origin?: ItemOrigin | null;
}
