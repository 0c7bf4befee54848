import crypto from 'node:crypto';
import fs from 'node:fs';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  print,
  validate,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import type { CorsOptions } from 'cors';
import type { QuarryConfig } from '../config';
import type { ApiKey } from '../entities';
import { ErrorCode } from '../errors';
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

function canonicalHash(document: DocumentNode): string {
  return crypto.createHash('sha256').update(print(document)).digest('hex');
}

/** The error a key limited to persisted documents gets for any other document. */
export function notPersistedError(role: string): GraphQLError {
  return new GraphQLError(
    `${role} keys may send only the documents of the persisted-documents manifest (QUARRY_PERSISTED_DOCUMENTS_ONLY_ROLES); use the Quarry SDK's operations.`,
    { extensions: { code: ErrorCode.FORBIDDEN, http: { status: 403 } } },
  );
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
