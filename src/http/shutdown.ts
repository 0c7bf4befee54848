import type { Duplex } from 'node:stream';
import type { RequestHandler } from 'express';
import { ErrorCode } from '../errors';
import { sendError } from './errors';

/** What a client is told to wait before it retries a request refused while the server stops. */
export const SHUTDOWN_RETRY_AFTER_SECONDS = 2;

/**
 * The close code of the WebSocket connections open when the server starts stopping: 1012
 * (Service Restart), which graphql-ws clients (and browsers' reconnect logic) take as "reconnect",
 * to another process behind the same address.
 */
export const SHUTDOWN_CLOSE_CODE = 1012;

const SHUTDOWN_MESSAGE = `This server is stopping; retry in ${SHUTDOWN_RETRY_AFTER_SECONDS} s (another process will answer).`;

/**
 * The server's drain switch: once it is on, every new request (GraphQL, export, /readyz, and
 * WebSocket upgrades) is answered 503 SHUTTING_DOWN with Retry-After and `Connection: close`,
 * instead of being taken (or the connection reset), so clients and load balancers go to another
 * process. Requests already under way finish; open WebSocket connections are closed with
 * {@link SHUTDOWN_CLOSE_CODE} by what {@link onStart} registered.
 */
export class Drain {
  private on = false;
  private readonly started: (() => void)[] = [];

  get draining(): boolean {
    return this.on;
  }

  start(): void {
    if (this.on) return;
    this.on = true;
    for (const listener of this.started) listener();
  }

  /** Runs `listener` once, when draining starts. */
  onStart(listener: () => void): void {
    this.started.push(listener);
  }

  /**
   * Answers an HTTP upgrade request (a WebSocket) that arrives while draining: a complete
   * `HTTP/1.1 503` with Retry-After and the SHUTTING_DOWN error as its body, then the socket is
   * closed. A client sees a refusal to retry, not a hang-up.
   */
  refuseUpgrade(socket: Duplex): void {
    const body = JSON.stringify({
      errors: [{ message: SHUTDOWN_MESSAGE, extensions: { code: ErrorCode.SHUTTING_DOWN } }],
    });
    socket.end(
      [
        'HTTP/1.1 503 Service Unavailable',
        `Retry-After: ${SHUTDOWN_RETRY_AFTER_SECONDS}`,
        'Connection: close',
        'Content-Type: application/json; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n'),
    );
  }

  /** The first middleware of the app. */
  middleware(): RequestHandler {
    return (_req, res, next) => {
      if (!this.on) return next();
      res.setHeader('Retry-After', String(SHUTDOWN_RETRY_AFTER_SECONDS));
      res.setHeader('Connection', 'close');
      sendError(res, 503, ErrorCode.SHUTTING_DOWN, SHUTDOWN_MESSAGE);
    };
  }
}
