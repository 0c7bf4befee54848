import type { WebSocket } from 'ws';
import { logger } from '../logger';
import type { Services } from '../services';
import type { EventBus } from '../services/event-bus';

/** The close code of a connection whose key was revoked (graphql-ws's Forbidden: not retried). */
export const KEY_REVOKED_CLOSE_CODE = 4403;

/**
 * The open WebSocket connections by API key, so that a revoked key's subscriptions end: at once
 * when the revocation event arrives (published by whichever process revoked it), and within
 * `checkMs` by a periodic check of the keys in use, should that event be lost (the listener
 * reconnecting).
 */
export class SubscriptionKeys {
  private readonly byKey = new Map<string, Set<WebSocket>>();
  private readonly stopListening: () => void;
  private readonly timer: NodeJS.Timeout;
  private checking = false;

  constructor(
    events: EventBus,
    private readonly services: Services,
    checkMs: number,
  ) {
    this.stopListening = events.onKeyRevoked((keyId) => this.close(keyId));
    this.timer = setInterval(() => void this.check(), checkMs);
    this.timer.unref();
  }

  /** Tracks a connection made with `keyId` until it closes. */
  add(keyId: string, socket: WebSocket): void {
    let sockets = this.byKey.get(keyId);
    if (!sockets) this.byKey.set(keyId, (sockets = new Set()));
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && this.byKey.get(keyId) === sockets) this.byKey.delete(keyId);
    });
  }

  private close(keyId: string): void {
    const sockets = this.byKey.get(keyId);
    if (!sockets) return;
    this.byKey.delete(keyId);
    logger.info({ keyId, connections: sockets.size }, 'closing the subscriptions of a revoked key');
    for (const socket of sockets)
      socket.close(KEY_REVOKED_CLOSE_CODE, 'Forbidden: API key revoked');
  }

  private async check(): Promise<void> {
    if (this.checking || this.byKey.size === 0) return;
    this.checking = true;
    try {
      for (const id of await this.services.apiKeys.revokedAmong([...this.byKey.keys()])) {
        this.close(id);
      }
    } catch (err) {
      logger.warn({ err }, 'checking the keys of open subscriptions failed');
    } finally {
      this.checking = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.stopListening();
  }
}
