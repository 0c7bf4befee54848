import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { RESOLVERS } from '../resolvers';

let cached: Promise<GraphQLSchema> | undefined;

/** The GraphQL schema, built once per process from the resolvers and schema types. */
export function buildQuarrySchema(): Promise<GraphQLSchema> {
  cached ??= buildSchema({ resolvers: RESOLVERS, validate: false });
  return cached;
}
