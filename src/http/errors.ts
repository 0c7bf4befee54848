import type { ErrorRequestHandler, NextFunction, Request, Response } from 'express';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { APOLLO_REQUEST_CODES, ErrorCode, QuarryError } from '../errors';
import { logger } from '../logger';
import { limitErrorOf } from './limits';
import { requestRecord } from './request-log';

/**
 * Apollo's `formatError`: Quarry's own errors and GraphQL request errors pass through; anything
 * else is logged with its context and masked, so SQL text and stack traces never reach clients.
 */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
): GraphQLFormattedError {
  // A query limit reported by the parser or a validation rule is shown as QUERY_TOO_COMPLEX.
  const limit = limitErrorOf(error);
  if (limit) {
    const { http: _http, ...extensions } = limit.extensions as Record<string, unknown>;
    return { message: limit.message, extensions };
  }
  const original = unwrapResolverError(error);
  if (original instanceof QuarryError) {
    const { http: _http, ...extensions } = original.extensions as Record<string, unknown>;
    return { ...formatted, extensions };
  }
  const code = formatted.extensions?.code;
  if (
    typeof code === 'string' &&
    (APOLLO_REQUEST_CODES.has(code) || code === ErrorCode.BAD_USER_INPUT)
  ) {
    // Request errors from Apollo and graphql-js (parse, validation, variable coercion).
    return {
      message: formatted.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code },
    };
  }
  if (isRequestProtocolError(original)) {
    // Apollo's own refusals of a malformed request that carry no code (an APQ hash that does not
    // match its query, an unsupported APQ version): the client's mistake, not a server fault.
    return { message: formatted.message, extensions: { code: 'BAD_REQUEST' } };
  }
  logger.error(
    { err: original, path: formatted.path },
    'unexpected error while resolving a request',
  );
  return {
    message:
      'Internal server error. It has been logged; retry later or report it with the time of the request.',
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}

/**
 * An error Apollo's request pipeline raised before execution to refuse the request (HTTP 400),
 * not one thrown while resolving: no path, no cause, its status set to 400.
 */
function isRequestProtocolError(error: unknown): boolean {
  if (!(error instanceof GraphQLError) || error.path || error.originalError) return false;
  const http = error.extensions.http as { status?: number } | undefined;
  return http?.status === 400;
}

/**
 * HTTP status of a Quarry error on the plain HTTP routes (the label export): the codes a client
 * acts on get their own status, every other client error is a 400.
 */
const HTTP_STATUS_BY_CODE: Readonly<Record<string, number>> = {
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_FOUND]: 404,
};

/** The HTTP status a plain HTTP route answers a {@link QuarryError} with (400 by default). */
export function httpStatusOf(error: QuarryError): number {
  return HTTP_STATUS_BY_CODE[String(error.extensions.code)] ?? 400;
}

/** Answers with a GraphQL-shaped error body: `{ errors: [{ message, extensions: { code } }] }`. */
export function sendError(res: Response, status: number, code: string, message: string): void {
  const record = requestRecord(res.req);
  record.errorCode = code;
  res.status(status).json({ errors: [{ message, extensions: { code, requestId: record.id } }] });
}

/**
 * Express's last error handler: a body over `maxRequestBytes` is PAYLOAD_TOO_LARGE (413), other
 * client errors of the body parsers keep their status (code BAD_REQUEST), anything else is
 * logged and masked as INTERNAL_SERVER_ERROR.
 */
export function httpErrorHandler(maxRequestBytes: number): ErrorRequestHandler {
  return (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (res.headersSent) return next(err);
    if (e.type === 'entity.too.large' || e.status === 413) {
      sendError(
        res,
        413,
        ErrorCode.PAYLOAD_TOO_LARGE,
        `The request is larger than ${maxRequestBytes} bytes (QUARRY_MAX_REQUEST_BYTES).`,
      );
      return;
    }
    if (e.status && e.status >= 400 && e.status < 500) {
      sendError(res, e.status, 'BAD_REQUEST', e.message ?? 'Bad request');
      return;
    }
    logger.error({ err }, 'unhandled HTTP error');
    sendError(res, 500, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
  };
}
