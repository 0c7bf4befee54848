import crypto from 'node:crypto';
import fs from 'node:fs';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  print,
  validate,
  visit,
  type ASTNode,
  type DocumentNode,
  type FieldNode,
  type SelectionSetNode,
  type GraphQLSchema,
} from 'graphql';
import type { CorsOptions } from 'cors';
import type { QuarryConfig } from '../config';
import type { ApiKey } from '../entities';
import { ForbiddenError } from '../errors';
import type { GraphQLContext } from '../resolvers/context';

/** The manifest `@quarry/client` ships: `{ "sha256:<hex>": "<document>" }`. */
function defaultManifestPath(): string {
  return require.resolve('@quarry/client/persisted-documents.json');
}

/**
 * The documents a persisted-documents-only key may send, as the sha256 of their canonical form
 * (`print(parse(text))`): a client that prints the same document differently (the SDK prints its
 * own AST, the manifest holds a compact text) still matches.
 */
export function loadPersistedDocuments(file?: string): ReadonlySet<string> {
  const path = file ?? defaultManifestPath();
  let manifest: Record<string, string>;
  try {
    manifest = JSON.parse(fs.readFileSync(path, 'utf8')) as Record<string, string>;
  } catch (e) {
    throw new Error(
      `QUARRY_PERSISTED_DOCUMENTS_FILE ${path} could not be read as a JSON manifest { "sha256:<hex>": "<document>" }: ${(e as Error).message}`,
    );
  }
  return new Set(Object.values(manifest).map((text) => canonicalHash(parse(text))));
}

function printedOrder(a: ASTNode, b: ASTNode): number {
  const x = print(a);
  const y = print(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The sha256 of a document in a canonical form: selections and arguments sorted, definitions
 * sorted, printed. The manifest holds documents normalised that way by the SDK's codegen, while
 * the SDK sends them as written; both sides hash the same here.
 */
function canonicalHash(document: DocumentNode): string {
  const sorted = visit(document, {
    SelectionSet: {
      leave: (node: SelectionSetNode) => ({
        ...node,
        selections: [...node.selections].sort(printedOrder),
      }),
    },
    Field: {
      leave: (node: FieldNode) => ({
        ...node,
        arguments: node.arguments ? [...node.arguments].sort(printedOrder) : node.arguments,
      }),
    },
  });
  const text = sorted.definitions
    .map((d) => print(d))
    .sort()
    .join('\n');
  return crypto.createHash('sha256').update(text).digest('hex');
}

/** The error a key limited to persisted documents gets for any other document. */
export function notPersistedError(role: string): ForbiddenError {
  const error = new ForbiddenError(
    `${role} keys may send only the documents of the persisted-documents manifest (QUARRY_PERSISTED_DOCUMENTS_ONLY_ROLES); use the Quarry SDK's operations.`,
  );
  error.extensions.http = { status: 403 };
  return error;
}

/**
 * The rules of the configuration that apply to a document, by key: persisted-documents-only
 * roles, and introspection when it is off. Shared by HTTP (an Apollo plugin) and WebSocket
 * (graphql-ws's onSubscribe), so neither path is a way around the other.
 */
export class DocumentPolicy {
  private readonly roles: ReadonlySet<string>;
  private readonly allowed: ReadonlySet<string>;

  constructor(private readonly config: QuarryConfig) {
    this.roles = new Set(config.persistedDocumentsOnlyRoles);
    this.allowed =
      this.roles.size > 0 ? loadPersistedDocuments(config.persistedDocumentsFile) : new Set();
  }

  /** Errors that refuse `document` for `key` (none: allowed). */
  check(key: ApiKey | undefined, document: DocumentNode, schema: GraphQLSchema): GraphQLError[] {
    if (key && this.roles.has(key.role) && !this.allowed.has(canonicalHash(document))) {
      return [notPersistedError(key.role)];
    }
    if (!this.config.introspection) {
      const errors = validate(schema, document, [NoSchemaIntrospectionCustomRule]);
      if (errors.length > 0) {
        return errors.map(
          (e) =>
            new GraphQLError(e.message, {
              nodes: e.nodes,
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
            }),
        );
      }
    }
    return [];
  }

  /** The Apollo plugin applying {@link check} to HTTP operations (before they run). */
  plugin(): ApolloServerPlugin<GraphQLContext> {
    return {
      requestDidStart: async ({ contextValue, schema }) => {
        if (this.roles.size === 0 || !this.roles.has(contextValue.key.role)) return;
        return {
          didResolveOperation: async (rc) => {
            const [error] = this.check(contextValue.key, rc.document, schema);
            if (error) throw error;
          },
        };
      },
    };
  }
}

/** CORS: any origin (`*`), or exactly the origins of QUARRY_CORS_ORIGINS. */
export function corsOptions(config: QuarryConfig): CorsOptions {
  if (config.corsOrigins.includes('*')) return { origin: '*' };
  return { origin: config.corsOrigins, maxAge: 600 };
}

/** Whether a WebSocket upgrade's Origin may connect (browsers send one; other clients need not). */
export function originAllowed(config: QuarryConfig, origin: string | undefined): boolean {
  if (!origin || config.corsOrigins.includes('*')) return true;
  return config.corsOrigins.includes(origin);
}
