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

export class BudgetExhaustedError extends QuarryError {
  constructor(message: string) {
    super(ErrorCode.BUDGET_EXHAUSTED, message);
  }
}

export class ServiceOverloadedError extends QuarryError {
  constructor(message: string) {
    super(ErrorCode.SERVICE_OVERLOADED, message);
  }
}
