import type { RequestHandler } from 'express';
import { ErrorCode } from '../errors';
import { sendError } from './errors';

/** What a client is told to wait before it retries a request refused while the server stops. */
export const SHUTDOWN_RETRY_AFTER_SECONDS = 2;

/**
 * The server's drain switch: once it is on, every new request (GraphQL, export, /readyz) is
 * answered 503 SHUTTING_DOWN with Retry-After and `Connection: close`, instead of being taken
 * (or the connection reset), so clients and load balancers go to another process. Requests
 * already under way finish.
 */
export class Drain {
  private on = false;

  get draining(): boolean {
    return this.on;
  }

  start(): void {
    this.on = true;
  }

  /** The first middleware of the app. */
  middleware(): RequestHandler {
    return (_req, res, next) => {
      if (!this.on) return next();
      res.setHeader('Retry-After', String(SHUTDOWN_RETRY_AFTER_SECONDS));
      res.setHeader('Connection', 'close');
      sendError(
        res,
        503,
        ErrorCode.SHUTTING_DOWN,
        `This server is stopping; retry in ${SHUTDOWN_RETRY_AFTER_SECONDS} s (another process will answer).`,
      );
    };
  }
}
