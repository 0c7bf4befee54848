import {
  Arg,
  Args,
  Ctx,
  FieldResolver,
  Float,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import {
  ImportItemInput,
  ImportItemsResult,
  ItemConnection,
  ItemFilter,
  ItemNode,
} from '../schema/item.types';
import { LabelConnection, LabelNode } from '../schema/label.types';
import { PredictionConnection } from '../schema/model.types';
import { PageArgs, toConnection } from '../schema/connection';
import { NotFoundError } from '../errors';
import { authorize, Permission } from '../services/permissions';
import { bytesToFloats } from '../services/features';
import type { GraphQLContext } from './context';
import { datasetClasses, toLabelNode, toPredictionNode } from './shapes';

@Resolver(() => ItemNode)
export class ItemResolver {
  @Query(() => ItemConnection, {
    description: "A dataset's items in import order, a page at a time.",
  })
  async items(
    @Arg('datasetId', () => ID) datasetId: string,
    @Arg('filter', () => ItemFilter, { nullable: true }) filter: ItemFilter | null,
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ItemConnection> {
    const page = await ctx.services.items.list(ctx.key, datasetId, filter ?? {}, first, after);
    return toConnection(ItemConnection, page);
  }

  @Query(() => ItemNode)
  async item(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<ItemNode> {
    const item = await ctx.services.items.get(ctx.key, id);
    if (!item) throw new NotFoundError('Item', id);
    return item;
  }

  @Mutation(() => ImportItemsResult, {
    description:
      'Imports up to 10,000 items, all or nothing. Any bad item (wrong vector length, NaN or infinite values, duplicate or existing external id, unknown class) rejects the whole call with BAD_USER_INPUT naming the items in extensions.problems.',
  })
  importItems(
    @Arg('datasetId', () => ID) datasetId: string,
    @Arg('items', () => [ImportItemInput]) items: ImportItemInput[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<ImportItemsResult> {
    return ctx.services.items.importItems(ctx.key, datasetId, items);
  }

  @FieldResolver(() => [Float], { description: 'The feature vector (loaded only when asked for).' })
  async features(@Root() item: ItemNode, @Ctx() ctx: GraphQLContext): Promise<number[]> {
    const bytes = await ctx.loaders.itemFeatures.load(item.id);
    return bytes ? bytesToFloats(bytes) : [];
  }

  @FieldResolver(() => String, {
    description: 'The feature vector as base64 of little-endian float32, bit-exact.',
  })
  async featuresBase64(@Root() item: ItemNode, @Ctx() ctx: GraphQLContext): Promise<string> {
    const bytes = await ctx.loaders.itemFeatures.load(item.id);
    return bytes ? bytes.toString('base64') : '';
  }

  @FieldResolver(() => LabelNode, {
    nullable: true,
    description:
      "The item's label: its newest current label of the highest-ranked source (HUMAN over IMPORT over MODEL).",
  })
  async label(@Root() item: ItemNode, @Ctx() ctx: GraphQLContext): Promise<LabelNode | null> {
    authorize(ctx.key, Permission.READ_LABELS);
    const label = await ctx.loaders.itemLabel.load(item.id);
    return label ? toLabelNode(label, ctx) : null;
  }

  @FieldResolver(() => PredictionConnection, {
    description:
      "Models' latest predictions for the item (pre-labels), newest model version first (`first`: 0 to 1000, default 50).",
  })
  async predictions(
    @Root() item: ItemNode,
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<PredictionConnection> {
    const page = await ctx.loaders.itemPredictions.of(first, after).load(item.id);
    const rows = page.nodes;
    const classes = rows.length ? await datasetClasses(ctx, rows[0].datasetId) : undefined;
    return toConnection(PredictionConnection, {
      ...page,
      nodes: rows.map((r) => toPredictionNode(r, classes)),
    });
  }

  @FieldResolver(() => LabelConnection, {
    description: 'Every label the item ever had, newest first (`first`: 0 to 1000, default 50).',
  })
  async labels(
    @Root() item: ItemNode,
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<LabelConnection> {
    authorize(ctx.key, Permission.READ_LABELS);
    const page = await ctx.loaders.itemLabels.of(first, after).load(item.id);
    const nodes = await Promise.all(page.nodes.map((l) => toLabelNode(l, ctx)));
    return toConnection(LabelConnection, { ...page, nodes });
  }

  @FieldResolver(() => [ID], {
    nullable: true,
    description:
      'For SYNTHETIC items: the labelled items it was made from (base item first); null otherwise.',
  })
  parents(@Root() item: ItemNode & { parents?: (string | number)[] | null }): string[] | null {
    return item.parents ? item.parents.map(String) : null;
  }

  @FieldResolver(() => GraphQLJSON, {
    nullable: true,
    description:
      'For SYNTHETIC items: how it was made — `method`, `params` (defaults applied), `seed`, the `record` of what the method drew (e.g. mixup `lambda`, smote `gap`) and the `intendedClass` it was meant to have; null otherwise.',
  })
  synthesis(
    @Root() item: ItemNode & { synthesis?: Record<string, unknown> | null },
  ): Record<string, unknown> | null {
    return item.synthesis ?? null;
  }
}
