import { ArgsType, ClassType, Field, Int, ObjectType } from 'type-graphql';
import type { Page } from '../services/pagination';

@ObjectType({ description: 'Relay page information.' })
export class PageInfo {
  @Field()
  hasNextPage: boolean;

  @Field()
  hasPreviousPage: boolean;

  @Field(() => String, { nullable: true })
  startCursor: string | null;

  @Field(() => String, { nullable: true })
  endCursor: string | null;
}

/** The arguments of a connection field that pages forwards: `@Args() { first, after }: PageArgs`. */
@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, description: 'Page size, 0 to 1000 (default 50).' })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;
}

export interface EdgeShape<T> {
  cursor: string;
  node: T;
}

/**
 * Declares `<Name>Edge` and the abstract base of `<Name>Connection` for a node type (Relay spec):
 * `@ObjectType() class ItemConnection extends ConnectionType(ItemNode, 'Item') {}`.
 */
export function ConnectionType<T extends object>(nodeType: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field()
    cursor: string;

    @Field(() => nodeType)
    node: T;
  }

  @ObjectType(`${name}ConnectionBase`)
  abstract class Connection {
    @Field(() => [Edge])
    edges: EdgeShape<T>[];

    @Field(() => [nodeType], {
      description: "The page's nodes, in order: `edges` without cursors.",
    })
    nodes(): T[] {
      return this.edges.map((e) => e.node);
    }

    @Field(() => PageInfo)
    pageInfo: PageInfo;

    count: () => Promise<number>;

    @Field(() => Int, { description: 'How many nodes match the filter, over all pages.' })
    totalCount(): Promise<number> {
      return this.count();
    }
  }
  return Connection;
}

/** Shapes a service page as a connection object. */
export function toConnection<T, C>(ctor: new () => C, page: Page<T>): C {
  const c = new ctor() as C & {
    edges: EdgeShape<T>[];
    pageInfo: PageInfo;
    count: () => Promise<number>;
  };
  c.edges = page.nodes.map((node, i) => ({ node, cursor: page.cursors[i] }));
  c.pageInfo = {
    hasNextPage: page.hasNextPage,
    hasPreviousPage: page.hasPreviousPage,
    startCursor: page.cursors[0] ?? null,
    endCursor: page.cursors[page.cursors.length - 1] ?? null,
  };
  c.count = page.totalCount;
  return c;
}
