import type { Database } from '../db/database';
import { run } from '../db/sql/statement';
import { startAttempt } from '../db/sql/webhooks.sql';
import { WebhookDeliveryStatus } from '../entities';
import { logger } from '../logger';
import { webhookAttempts } from '../metrics';
import { signWebhook, type WebhookService } from '../services/webhook.service';

export interface WebhookSenderOptions {
  /** Attempts before a delivery is marked FAILED (the job queue retries with backoff between). */
  maxAttempts: number;
  timeoutMs: number;
}

/** A failed attempt that the job queue should retry (thrown so pg-boss backs off and retries). */
export class WebhookAttemptFailed extends Error {}

/**
 * Sends webhook deliveries, one attempt per job run: a POST of the stored body, signed, answered
 * 2xx within the timeout or it counts as failed. Redirects are not followed (a receiver that
 * moved must be registered again).
 */
export class WebhookSender {
  constructor(
    private readonly db: Database,
    private readonly webhooks: WebhookService,
    private readonly opts: WebhookSenderOptions,
  ) {}

  async send(deliveryId: string): Promise<void> {
    const [d] = await run<{
      id: string;
      event: string;
      body: string;
      attempts: number;
      url: string;
      secret: string;
    }>(this.db.ds, startAttempt(deliveryId));
    // Settled already (a retry of a job whose attempt was recorded), or its webhook is gone.
    if (!d) return;
    const timestamp = Math.floor(Date.now() / 1000);
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.opts.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Quarry-Webhook/1',
          'x-quarry-event': d.event,
          'x-quarry-delivery': String(d.id),
          'x-quarry-timestamp': String(timestamp),
          'x-quarry-signature': `v1=${signWebhook(d.secret, timestamp, d.body)}`,
        },
        body: d.body,
      });
      status = res.status;
      // The answer's body is not kept; reading it frees the connection.
      await res.arrayBuffer().catch(() => undefined);
      if (status < 200 || status >= 300) error = `answered HTTP ${status}`;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      error =
        err.name === 'TimeoutError'
          ? `no answer within ${this.opts.timeoutMs} ms`
          : `${err.message}${err.cause?.code ? ` (${err.cause.code})` : ''}`;
    }
    if (error === null) {
      await this.webhooks.finishAttempt(d.id, WebhookDeliveryStatus.SUCCEEDED, status, null);
      webhookAttempts.inc({ outcome: 'SUCCEEDED' });
      return;
    }
    const last = d.attempts >= this.opts.maxAttempts;
    await this.webhooks.finishAttempt(
      d.id,
      last ? WebhookDeliveryStatus.FAILED : WebhookDeliveryStatus.PENDING,
      status,
      error,
    );
    logger.warn(
      { deliveryId: d.id, attempt: d.attempts, url: d.url, error, willRetry: !last },
      'webhook delivery failed',
    );
    webhookAttempts.inc({ outcome: last ? 'FAILED' : 'RETRY' });
    if (!last) throw new WebhookAttemptFailed(error);
  }
}
