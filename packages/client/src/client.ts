import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { QuarryError, type GraphQLErrorPayload } from './errors.js';
import { DEFAULT_RETRY, parseRetryAfter, withRetry, type RetryOptions } from './retry.js';

/** What `new QuarryClient(...)` takes. Only `url` is required. */
export interface QuarryClientOptions {
  /** The GraphQL endpoint, e.g. `http://localhost:4000/graphql`. */
  url: string;
  /** Sent as `Authorization: Bearer <apiKey>` over HTTP and in the WebSocket's connection params. */
  apiKey?: string;
  /** The subscriptions endpoint. Default: `url` with `http` turned into `ws`. */
  wsUrl?: string;
  /**
   * A WebSocket class for subscriptions where there is no global one (Node 20: pass the `ws`
   * package's default export). Without either, subscriptions are unavailable and waits poll.
   */
  webSocketImpl?: unknown;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Extra headers on every HTTP request. */
  headers?: Record<string, string>;
  /** How calls that are safe to repeat are retried (reads, keyed writes, overload refusals). */
  retry?: Partial<RetryOptions>;
  /** How often waits (rounds, training runs) poll when no subscription tells them. Default 500. */
  pollIntervalMs?: number;
}

/** Per-call options of {@link QuarryClient.request}. */
export interface RequestOptions {
  signal?: AbortSignal;
  /**
   * Whether the call may be repeated after a lost answer. Default: true for queries, false for
   * mutations (a mutation with an idempotency key may say true).
   */
  idempotent?: boolean;
  /** Overrides the client's retry options for this call; `{ retries: 0 }` never retries. */
  retry?: Partial<RetryOptions>;
  headers?: Record<string, string>;
}

/** The variables argument: optional when the operation has no required variable. */
export type VariablesOf<TVariables> =
  // `{}` on purpose: it is assignable to an object type exactly when no property is required.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  {} extends TVariables
    ? [variables?: TVariables, options?: RequestOptions]
    : [variables: TVariables, options?: RequestOptions];

interface Prepared {
  query: string;
  operationName: string | undefined;
  operation: 'query' | 'mutation' | 'subscription';
}

const DEFAULTS = { pollIntervalMs: 500 } as const;

/**
 * The transport every typed method uses: GraphQL over HTTP POST (with the header Apollo
 * Server's CSRF prevention asks for) and over WebSocket (graphql-ws) for subscriptions.
 *
 * @example
 * ```ts
 * import { QuarryClient, DatasetsDocument } from '@quarry/client';
 * const client = new QuarryClient({ url: 'http://localhost:4000/graphql', apiKey });
 * const { datasets } = await client.request(DatasetsDocument);
 * ```
 */
export class GraphQLTransport {
  readonly url: string;
  readonly retry: RetryOptions;
  readonly pollIntervalMs: number;
  readonly #opts: QuarryClientOptions;
  readonly #fetch: typeof fetch;
  readonly #prepared = new WeakMap<DocumentNode, Prepared>();
  #ws: WsClient | undefined;

  constructor(opts: QuarryClientOptions) {
    if (typeof opts?.url !== 'string' || !/^https?:\/\//.test(opts.url)) {
      throw new TypeError(
        `options.url must be an http(s) URL such as http://localhost:4000/graphql; got ${JSON.stringify(opts?.url)}`,
      );
    }
    const f = opts.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') {
      throw new TypeError('options.fetch is required where there is no global fetch');
    }
    this.#opts = opts;
    this.url = opts.url;
    this.#fetch = f.bind(globalThis);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.pollIntervalMs = opts.pollIntervalMs ?? DEFAULTS.pollIntervalMs;
  }

  /** Whether subscriptions can be opened here (a global WebSocket or `webSocketImpl`). */
  get canSubscribe(): boolean {
    return this.#opts.webSocketImpl !== undefined || typeof globalThis.WebSocket === 'function';
  }

  /**
   * Sends any operation and answers its data, typed by the document. GraphQL errors become a
   * {@link QuarryError}; queries (and calls marked idempotent) are retried on lost answers and
   * `SERVICE_OVERLOADED`, honouring `Retry-After`.
   */
  async request<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    // The document alone decides TVariables: inferred from the arguments too, a missing
    // required variables object would widen it instead of failing to compile.
    ...[variables, options = {}]: VariablesOf<NoInfer<TVariables>>
  ): Promise<TData> {
    const prepared = this.#prepare(document);
    const idempotent = options.idempotent ?? prepared.operation === 'query';
    return withRetry(() => this.#post<TData>(prepared, variables, options), {
      ...this.retry,
      ...options.retry,
      idempotent,
      signal: options.signal,
    });
  }

  /**
   * Runs any subscription operation over graphql-ws; each event's data arrives through the
   * iterator (an event with errors throws a {@link QuarryError}). `return()`, or leaving a
   * `for await` loop, ends the subscription. The socket opens on first use.
   */
  subscription<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
  ): AsyncIterableIterator<TData> {
    const prepared = this.#prepare(document);
    const results = this.#wsClient().iterate<TData>({
      query: prepared.query,
      operationName: prepared.operationName,
      variables: variables as Record<string, unknown>,
    });
    const iterator: AsyncIterableIterator<TData> = {
      next: async () => {
        let step: IteratorResult<{ data?: TData | null; errors?: readonly GraphQLErrorPayload[] }>;
        try {
          step = await results.next();
        } catch (e) {
          throw toSubscriptionError(e);
        }
        if (step.done) return { done: true, value: undefined };
        const { data, errors } = step.value;
        if (errors && errors.length > 0) throw QuarryError.fromResponse(errors, 200);
        return { done: false, value: data as TData };
      },
      return: async () => {
        await results.return?.();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return iterator;
  }

  /** Closes the WebSocket, if one was opened. HTTP needs no closing. */
  async close(): Promise<void> {
    const ws = this.#ws;
    this.#ws = undefined;
    await ws?.dispose();
  }

  #wsClient(): WsClient {
    if (this.#ws) return this.#ws;
    const impl = this.#opts.webSocketImpl ?? globalThis.WebSocket;
    if (impl === undefined) {
      throw new QuarryError({
        code: 'NETWORK_ERROR',
        message:
          'No WebSocket implementation for subscriptions: pass options.webSocketImpl (in Node 20, the `ws` package).',
      });
    }
    const apiKey = this.#opts.apiKey;
    this.#ws = createClient({
      url: this.#opts.wsUrl ?? this.url.replace(/^http/, 'ws'),
      webSocketImpl: impl,
      connectionParams: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      lazy: true,
      retryAttempts: 5,
      // graphql-ws retries 4403 (access might be granted later); Quarry sends it for a wrong
      // key, which a retry cannot fix.
      shouldRetry: (e) => isCloseEvent(e) && e.code !== 4403,
    });
    return this.#ws;
  }

  #prepare(document: DocumentNode): Prepared {
    let prepared = this.#prepared.get(document);
    if (!prepared) {
      const op = document.definitions.find(
        (d): d is OperationDefinitionNode => d.kind === 'OperationDefinition',
      );
      if (!op) throw new TypeError('The document has no operation (only fragments?)');
      prepared = { query: print(document), operationName: op.name?.value, operation: op.operation };
      this.#prepared.set(document, prepared);
    }
    return prepared;
  }

  async #post<TData>(
    prepared: Prepared,
    variables: unknown,
    options: RequestOptions,
  ): Promise<TData> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      // Apollo Server's CSRF prevention refuses requests a browser could send cross-site
      // without a preflight; this header makes every request one a browser would preflight.
      'apollo-require-preflight': 'true',
      ...this.#opts.headers,
      ...options.headers,
    };
    if (this.#opts.apiKey) headers.authorization = `Bearer ${this.#opts.apiKey}`;
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(this.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          query: prepared.query,
          operationName: prepared.operationName,
          variables: variables ?? {},
        }),
        signal: options.signal,
      });
      text = await res.text();
    } catch (e) {
      if (options.signal?.aborted) {
        throw new QuarryError({ code: 'ABORTED', message: 'The call was aborted.', cause: e });
      }
      throw new QuarryError({
        code: 'NETWORK_ERROR',
        message: `No answer from Quarry at ${this.url}: ${describe(e)}`,
        cause: e,
      });
    }
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
    let body: { data?: TData | null; errors?: GraphQLErrorPayload[] };
    try {
      body = JSON.parse(text);
    } catch {
      throw new QuarryError({
        code: 'BAD_RESPONSE',
        message: `Unexpected answer from ${this.url} (HTTP ${res.status}): ${text.slice(0, 200)}`,
        status: res.status,
        retryAfterMs,
      });
    }
    if (body.errors && body.errors.length > 0) {
      throw QuarryError.fromResponse(body.errors, res.status, retryAfterMs);
    }
    if (body.data === undefined || body.data === null) {
      throw new QuarryError({
        code: 'BAD_RESPONSE',
        message: `Answer from ${this.url} (HTTP ${res.status}) has neither data nor errors`,
        status: res.status,
      });
    }
    return body.data;
  }
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error ? `${e.message} (${cause.message})` : e.message;
}

function isCloseEvent(e: unknown): e is { code: number; reason: string } {
  return typeof e === 'object' && e !== null && 'code' in e && 'reason' in e;
}

function toSubscriptionError(e: unknown): QuarryError {
  if (e instanceof QuarryError) return e;
  if (Array.isArray(e)) return QuarryError.fromResponse(e as GraphQLErrorPayload[], 200);
  // graphql-ws rejects with the socket's CloseEvent when the connection ends badly.
  const close = (e as { reason?: string; code?: number } | null) ?? {};
  if (close.code === 4403) {
    // Quarry refuses the connection itself when the key in connection_init is wrong.
    return new QuarryError({
      code: 'UNAUTHENTICATED',
      message: 'The server refused the WebSocket connection (4403): check the API key.',
      cause: e,
    });
  }
  if (close.code === 4400) {
    return new QuarryError({
      code: 'BAD_REQUEST',
      message: `The server closed the WebSocket: ${close.reason ?? 'bad request'} (4400)`,
      cause: e,
    });
  }
  return new QuarryError({
    code: 'NETWORK_ERROR',
    message: `The subscription's connection failed${close.code ? ` (${close.code} ${close.reason ?? ''})` : ''}: ${describe(e)}`,
    cause: e,
  });
}
