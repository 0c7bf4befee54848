/**
 * What a request meets before any of its body is read: shutdown (503), the failed-authentication
 * limit of its address (429), authentication on its headers (401), its key's request rate (429)
 * and its role's body size (413). Only then are the body parsers of the key's role run.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import express from 'express';
import { graphqlUploadExpress } from 'graphql-upload-minimal';
import type { QuarryConfig } from '../config';
import type { ApiKey } from '../entities';
import { ApiKeyRole } from '../entities/enums';
import { ErrorCode, QuarryError } from '../errors';
import type { ApiKeyService } from '../services/api-key.service';
import { sendError } from './errors';
import { keyFromHeaders } from './keys';
import { requestRecord } from './request-log';
import { rateLimitedError, type RateLimits, type Refusal } from './rate-limit';

/** Where the gate leaves the authenticated key for the GraphQL context. */
export function gateKey(res: Response): ApiKey {
  return res.locals.quarryKey as ApiKey;
}

/** The client's address, for the failed-authentication limit. */
export function addressOf(req: { socket: { remoteAddress?: string } }): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** A refusal after which the rest of the body is not read: the connection is closed. */
function refuse(res: Response, status: number, code: string, message: string): void {
  res.setHeader('Connection', 'close');
  sendError(res, status, code, message);
}

/** Answers 429 RATE_LIMITED with Retry-After. */
export function sendRateLimited(
  res: Response,
  what: Parameters<typeof rateLimitedError>[0],
  refusal: Refusal,
): void {
  res.setHeader('Retry-After', String(refusal.retryAfterSeconds));
  const record = requestRecord(res.req);
  record.errorCode = ErrorCode.RATE_LIMITED;
  const e = rateLimitedError(what, refusal);
  res.status(429).json({
    errors: [
      {
        message: e.message,
        extensions: {
          code: ErrorCode.RATE_LIMITED,
          retryAfterSeconds: refusal.retryAfterSeconds,
          requestId: record.id,
        },
      },
    ],
  });
}

/** The largest body a role may send (never above QUARRY_MAX_REQUEST_BYTES). */
export function maxBodyBytes(config: QuarryConfig, role: ApiKeyRole): number {
  return Math.min(config.maxRequestBytes, config.edge.maxRequestBytesByRole[role]);
}

/**
 * The gate of /graphql: authenticates on the headers and applies the limits above; the key
 * goes to `res.locals` (see {@link gateKey}).
 */
export function edgeGate(deps: {
  config: QuarryConfig;
  apiKeys: ApiKeyService;
  rateLimits: RateLimits;
}): RequestHandler {
  const { config, apiKeys, rateLimits } = deps;
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const secret = keyFromHeaders(req.headers);
      // A key found valid moments ago costs no lookup; any other secret (a guess among them) is
      // refused while its address has used up its failed authentications.
      let key = apiKeys.recentlyValid(secret);
      if (!key) {
        const address = addressOf(req);
        const blocked = await rateLimits.addressBlocked(address);
        if (blocked) {
          res.setHeader('Connection', 'close');
          sendRateLimited(res, 'authentication', blocked);
          return;
        }
        try {
          key = await apiKeys.authenticate(secret);
        } catch (e) {
          if (!(e instanceof QuarryError)) throw e;
          await rateLimits.authFailed(address);
          refuse(res, 401, String(e.extensions.code), e.message);
          return;
        }
      }
      const refusal = await rateLimits.request(key.role, key.id);
      if (refusal) {
        res.setHeader('Connection', 'close');
        sendRateLimited(res, 'requests', refusal);
        return;
      }
      const limit = maxBodyBytes(config, key.role);
      const length = Number(req.headers['content-length'] ?? 0);
      if (length > limit) {
        refuse(
          res,
          413,
          ErrorCode.PAYLOAD_TOO_LARGE,
          `The request is larger than the ${limit} bytes a ${key.role} key may send (QUARRY_MAX_REQUEST_BYTES_BY_ROLE).`,
        );
        return;
      }
      res.locals.quarryKey = key;
      requestRecord(req).keyId = key.id;
      next();
    } catch (e) {
      next(e);
    }
  };
}

/**
 * The body parsers (multipart upload and JSON), each with its role's size limit: a body that
 * grows past it while streaming (no or a false Content-Length) is cut off with 413.
 */
export function bodyParsersByRole(config: QuarryConfig): RequestHandler {
  const parsers = new Map<ApiKeyRole, RequestHandler[]>();
  for (const role of Object.values(ApiKeyRole)) {
    const limit = maxBodyBytes(config, role);
    parsers.set(role, [
      // +1: the multipart parser flags a file of exactly maxFileSize as truncated; the resolver
      // itself refuses anything over maxModelBytes.
      graphqlUploadExpress({
        maxFileSize: Math.min(config.maxModelBytes + 1, limit),
        maxFiles: 1,
      }) as RequestHandler,
      express.json({ limit }),
    ]);
  }
  return (req, res, next) => {
    const [upload, json] = parsers.get(gateKey(res).role)!;
    upload(req, res, (err?: unknown) => (err ? next(err) : json(req, res, next)));
  };
}
