/**
 * The codes a {@link QuarryError} carries: the server's closed set (`extensions.code`), the
 * GraphQL request codes Apollo Server raises, and the client's own for failures the server
 * never saw or answered.
 */
export type ServerErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'BUDGET_EXHAUSTED'
  | 'PAYLOAD_TOO_LARGE'
  | 'SERVICE_OVERLOADED'
  | 'INTERNAL_SERVER_ERROR'
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'BAD_REQUEST'
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'PERSISTED_QUERY_NOT_SUPPORTED'
  | 'OPERATION_RESOLUTION_FAILURE';

/**
 * Raised by the client itself: `NETWORK_ERROR` (no answer: the server may or may not have
 * done the work), `BAD_RESPONSE` (an answer that is not GraphQL JSON), `TASK_FAILED` (a round,
 * training run or other job ended FAILED or CANCELLED), `TIMEOUT` (a wait gave up), `ABORTED`.
 */
export type ClientErrorCode =
  'NETWORK_ERROR' | 'BAD_RESPONSE' | 'TASK_FAILED' | 'TIMEOUT' | 'ABORTED';

/** Every code a {@link QuarryError} may carry. */
export type QuarryErrorCode = ServerErrorCode | ClientErrorCode;

/** One problem with one element of a bulk input, e.g. the 4th item of an import. */
export interface InputProblem {
  /** Zero-based position in the input list. */
  index?: number;
  /** The element's own identifier where it has one (an item's external id). */
  id?: string;
  /** The input field at fault, e.g. `features`. */
  field?: string;
  message: string;
}

/** One error of a GraphQL response, as the server sent it. */
export interface GraphQLErrorPayload {
  message: string;
  path?: readonly (string | number)[];
  locations?: readonly { line: number; column: number }[];
  extensions?: Record<string, unknown>;
}

/** What a {@link QuarryError} is made from. */
export interface QuarryErrorInit {
  code: QuarryErrorCode;
  message: string;
  /** Every GraphQL error of the response (the first one gave the code and message). */
  errors?: readonly GraphQLErrorPayload[];
  /** The first error's extensions. */
  extensions?: Record<string, unknown>;
  /** The HTTP status, when an answer arrived. */
  status?: number;
  /** How long the server asked us to wait before retrying (the `Retry-After` header). */
  retryAfterMs?: number;
  cause?: unknown;
}

const SERVER_CODES: ReadonlySet<string> = new Set<ServerErrorCode>([
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'BUDGET_EXHAUSTED',
  'PAYLOAD_TOO_LARGE',
  'SERVICE_OVERLOADED',
  'INTERNAL_SERVER_ERROR',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/**
 * Every failure the client reports: a GraphQL error from the server (its `extensions.code`),
 * or one of the client's own codes. Switch on `.code`; bulk inputs list what was wrong in
 * `.problems`.
 *
 * @example
 * ```ts
 * try {
 *   await client.items.import(datasetId, items);
 * } catch (e) {
 *   if (e instanceof QuarryError && e.code === 'BAD_USER_INPUT') console.table(e.problems);
 *   else throw e;
 * }
 * ```
 */
export class QuarryError extends Error {
  override readonly name = 'QuarryError';
  readonly code: QuarryErrorCode;
  /** The items of a bulk input the server rejected (at most 100; see `problemCount`). */
  readonly problems: readonly InputProblem[];
  /** How many problems there were in all (`problems` lists at most 100). */
  readonly problemCount: number;
  readonly errors: readonly GraphQLErrorPayload[];
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(init: QuarryErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.errors = init.errors ?? [];
    this.extensions = init.extensions ?? {};
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    const problems = this.extensions.problems;
    this.problems = Array.isArray(problems) ? (problems as InputProblem[]) : [];
    const count = this.extensions.problemCount;
    this.problemCount = typeof count === 'number' ? count : this.problems.length;
  }

  /** The error for a GraphQL response with errors; an unknown code reads as INTERNAL_SERVER_ERROR. */
  static fromResponse(
    errors: readonly GraphQLErrorPayload[],
    status: number,
    retryAfterMs?: number,
  ): QuarryError {
    const first = errors[0] ?? { message: `HTTP ${status} with an empty error list` };
    const raw = first.extensions?.code;
    const code: QuarryErrorCode =
      typeof raw === 'string' && SERVER_CODES.has(raw)
        ? (raw as ServerErrorCode)
        : 'INTERNAL_SERVER_ERROR';
    return new QuarryError({
      code,
      message: first.message,
      errors,
      extensions: first.extensions,
      status,
      retryAfterMs,
    });
  }
}

/** True for an error of this code (a type guard for the `catch` clause). */
export function isQuarryError(e: unknown, code?: QuarryErrorCode): e is QuarryError {
  return e instanceof QuarryError && (code === undefined || e.code === code);
}
