import { GraphQLError } from 'graphql';

/**
 * The closed set of error codes a client may see in `extensions.code`.
 * GraphQL's own request errors (`GRAPHQL_PARSE_FAILED`, `GRAPHQL_VALIDATION_FAILED`,
 * `BAD_REQUEST`, `PERSISTED_QUERY_NOT_FOUND`) pass through unchanged from Apollo Server.
 */
export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  BUDGET_EXHAUSTED = 'BUDGET_EXHAUSTED',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  SERVICE_OVERLOADED = 'SERVICE_OVERLOADED',
  /** The operation is deeper, has more aliases or tokens, or costs more than the server allows. */
  QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX',
  /** The key (or the address, for failed authentication) sent too much; retry after Retry-After. */
  RATE_LIMITED = 'RATE_LIMITED',
  /** The server is stopping; retry after Retry-After (another process will answer). */
  SHUTTING_DOWN = 'SHUTTING_DOWN',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

/** Codes Apollo Server itself raises for malformed requests; they are safe to show as they are. */
export const APOLLO_REQUEST_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

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

/** Base of every error Quarry shows to clients. */
export class QuarryError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code } });
  }
}

/** At most this many problems are listed in one error; the count says how many there were. */
export const MAX_LISTED_PROBLEMS = 100;

export class BadUserInputError extends QuarryError {
  constructor(message: string, problems?: InputProblem[]) {
    const ext: Record<string, unknown> = {};
    if (problems && problems.length > 0) {
      ext.problems = problems.slice(0, MAX_LISTED_PROBLEMS);
      ext.problemCount = problems.length;
    }
    super(ErrorCode.BAD_USER_INPUT, message, ext);
  }

  /** An error for a bulk input: the message names the first few offenders. */
  static forProblems(what: string, problems: InputProblem[]): BadUserInputError {
    const shown = problems
      .slice(0, 5)
      .map((p) => {
        const where = [
          p.index !== undefined ? `#${p.index}` : undefined,
          p.id !== undefined ? `'${p.id}'` : undefined,
        ]
          .filter(Boolean)
          .join(' ');
        return `${where}${p.field ? ` ${p.field}` : ''}: ${p.message}`;
      })
      .join('; ');
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    return new BadUserInputError(
      `${problems.length} ${what} rejected, nothing was written: ${shown}${more}`,
      problems,
    );
  }
}

export class UnauthenticatedError extends QuarryError {
  constructor(message = 'An API key is required: send it as "Authorization: Bearer <key>".') {
    super(ErrorCode.UNAUTHENTICATED, message);
  }
}

export class ForbiddenError extends QuarryError {
  constructor(message: string) {
    super(ErrorCode.FORBIDDEN, message);
  }
}

export class NotFoundError extends QuarryError {
  constructor(what: string, id: string) {
    super(ErrorCode.NOT_FOUND, `${what} ${JSON.stringify(id)} does not exist.`);
  }
}

export class ConflictError extends QuarryError {
  constructor(message: string) {
    super(ErrorCode.CONFLICT, message);
  }
}

export class PayloadTooLargeError extends QuarryError {
  constructor(message: string) {
    super(ErrorCode.PAYLOAD_TOO_LARGE, message);
  }
}

/** What a refused budget request asked for, and the dataset's units when it was refused. */
export interface BudgetShortfall {
  /** The request, as the subject of a sentence: `A round of 20 queries (1 answer each)`. */
  what: string;
  /** Units the request needs. */
  needed: number;
  /** Units that were left for it. */
  left: number;
  total: number;
  spent: number;
  held: number;
  owed: number;
  reserved: number;
  /** What the caller may do short of raising the budget: `start a smaller round`. */
  instead: string;
}

/**
 * BUDGET_EXHAUSTED, in the one wording every budget check uses: what was asked, what it needs,
 * what is left of the total and where the rest went, and what to do.
 *
 * @example "A round of 20 queries (1 answer each) needs 20 budget units, but only 10 of 30
 * remain (0 spent, 20 owed to open queries of which 0 held by claims, 0 reserved by running
 * rounds). Nothing was done: start a smaller round, or raise the dataset's labelBudget."
 */
export class BudgetExhaustedError extends QuarryError {
  /** The dataset whose budget refused (for its BUDGET_EXHAUSTED webhook; not sent to clients). */
  datasetId?: string;

  constructor(s: BudgetShortfall) {
    const units = (n: number) => `${n} budget unit${n === 1 ? '' : 's'}`;
    super(
      ErrorCode.BUDGET_EXHAUSTED,
      `${s.what} needs ${units(s.needed)}, but only ${s.left} of ${s.total} remain (${s.spent} spent, ${s.owed} owed to open queries of which ${s.held} held by claims, ${s.reserved} reserved by running rounds). Nothing was done: ${s.instead}, or raise the dataset's labelBudget.`,
    );
  }
}

export class ServiceOverloadedError extends QuarryError {
  constructor(message: string) {
    super(ErrorCode.SERVICE_OVERLOADED, message);
  }
}

/**
 * An operation over one of the query limits (depth, aliases, tokens, cost): `extensions.limit`
 * names it, `extensions.max` and `extensions.found` (when known) give the numbers.
 */
export class QueryTooComplexError extends QuarryError {
  constructor(message: string, limit: string, max: number, found?: number) {
    super(ErrorCode.QUERY_TOO_COMPLEX, message, {
      limit,
      max,
      ...(found !== undefined ? { found } : {}),
      http: { status: 400 },
    });
  }
}

/** Too many requests (or too much cost) in the current second; `retryAfterSeconds` says when. */
export class RateLimitedError extends QuarryError {
  constructor(message: string, retryAfterSeconds: number) {
    super(ErrorCode.RATE_LIMITED, message, { retryAfterSeconds });
  }
}
