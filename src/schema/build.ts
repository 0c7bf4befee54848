import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { RESOLVERS } from '../resolvers';
import { guardArguments } from './input-guard';

/**
 * Subscriptions get their events from the database's event bus through their own `subscribe`
 * functions (see QueueResolver), never through type-graphql's topic-based PubSub; type-graphql
 * still wants one to build the schema, so this one refuses use.
 */
const NO_PUBSUB: PubSub = {
  publish: () => {
    throw new Error('Quarry publishes events through the EventBus, not type-graphql PubSub');
  },
  subscribe: () => {
    throw new Error('Quarry subscriptions read the EventBus, not type-graphql PubSub');
  },
};

let cached: Promise<GraphQLSchema> | undefined;

/**
 * The GraphQL schema, built once per process from the resolvers and schema types, with every
 * argument's strings and JSON checked before its resolver runs (see `guardArguments`).
 */
export function buildQuarrySchema(): Promise<GraphQLSchema> {
  cached ??= buildSchema({ resolvers: RESOLVERS, validate: false, pubSub: NO_PUBSUB }).then((s) =>
    guardArguments(s),
  );
  return cached;
}
