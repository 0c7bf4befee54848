import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { APOLLO_REQUEST_CODES, ErrorCode, QuarryError } from '../errors';
import { logger } from '../logger';

/**
 * Apollo's `formatError`: Quarry's own errors and GraphQL request errors pass through; anything
 * else is logged with its context and masked, so SQL text and stack traces never reach clients.
 */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
): GraphQLFormattedError {
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
