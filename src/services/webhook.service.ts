import crypto from 'node:crypto';
import type { DataSource } from 'typeorm';
import {
  ApiKey,
  Webhook,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEventKind,
} from '../entities';
import { BadUserInputError, NotFoundError } from '../errors';
import { isUuid, returnedRows } from '../db/db-errors';
import { run, type Queryable } from '../db/sql/statement';
import * as webhooksSql from '../db/sql/webhooks.sql';
import { keysetPage, type Page } from './pagination';
import type { JobQueue } from '../jobs/job-queue';
import { DatasetService } from './dataset.service';
import type { Occurrence } from './event-bus';
import { authorize, authorizeRow, Permission } from './permissions';

/** Most webhooks one dataset may have. */
export const MAX_WEBHOOKS_PER_DATASET = 20;
/** How often one process reports BUDGET_EXHAUSTED for one dataset at most. */
export const BUDGET_EXHAUSTED_EVERY_MS = 60_000;
/** Most deliveries one `deliveries` call lists. */
export const MAX_DELIVERIES_LISTED = 200;
/** Deliveries one `deliveries` page lists when `first` is not given. */
export const DEFAULT_DELIVERIES_LISTED = 20;

export interface CreateWebhookInput {
  datasetId: string;
  url: string;
  events: WebhookEventKind[];
}

/** The body of every delivery: `data` depends on the event. */
export interface WebhookBody {
  /** The delivery's event kind. */
  event: WebhookEventKind;
  datasetId: string;
  /** When it happened (ISO 8601). */
  at: string;
  data: Record<string, unknown>;
}

/**
 * The signature of a delivery: hex HMAC-SHA256, keyed with the webhook's secret, over
 * `<timestamp>.<body>` (the timestamp in Unix seconds, as sent in `x-quarry-timestamp`), sent as
 * `x-quarry-signature: v1=<hex>`. Covering the timestamp lets receivers refuse replays of old
 * deliveries.
 */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  return crypto.createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
}

/** The body of the deliveries of an occurrence, stamped now. */
export function webhookBody(o: Occurrence): string {
  return JSON.stringify({
    event: o.kind,
    datasetId: o.datasetId,
    at: new Date().toISOString(),
    data: o.data,
  } satisfies WebhookBody);
}

function checkUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new BadUserInputError(`url ${JSON.stringify(raw)} is not a URL.`, [
      { field: 'url', message: 'not a URL' },
    ]);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BadUserInputError(`url must be http:// or https://; got ${url.protocol}//.`, [
      { field: 'url', message: 'must be http or https' },
    ]);
  }
  if (url.username || url.password) {
    throw new BadUserInputError('url must not carry credentials; the signature authenticates.', [
      { field: 'url', message: 'must not carry credentials' },
    ]);
  }
  if (url.href.length > 2000) {
    throw new BadUserInputError('url is longer than 2000 characters.', [
      { field: 'url', message: 'too long' },
    ]);
  }
  return url.href;
}

/**
 * Webhooks: registration, the delivery log, and the outbox every event of a dataset goes through
 * (a delivery row per listening webhook and a pg-boss job that sends it, both in the
 * transaction of the event).
 */
export class WebhookService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
    private readonly jobs: JobQueue,
  ) {}

  /** Registers a webhook; the returned secret is the only time it is ever shown. */
  async create(
    key: ApiKey,
    input: CreateWebhookInput,
  ): Promise<{ webhook: Webhook; secret: string }> {
    await this.datasets.getAuthorized(key, input.datasetId, Permission.WRITE_DATASET);
    const url = checkUrl(input.url);
    const events = [...new Set(input.events)].filter((e) => e !== WebhookEventKind.PING);
    if (events.length === 0) {
      throw new BadUserInputError('events must name at least one event kind (PING is implied).', [
        { field: 'events', message: 'empty' },
      ]);
    }
    const repo = this.ds.getRepository(Webhook);
    if ((await repo.countBy({ datasetId: input.datasetId })) >= MAX_WEBHOOKS_PER_DATASET) {
      throw new BadUserInputError(
        `A dataset has at most ${MAX_WEBHOOKS_PER_DATASET} webhooks; delete one first.`,
      );
    }
    const secret = `whsec_${crypto.randomBytes(32).toString('base64url')}`;
    const webhook = await repo.save({
      datasetId: input.datasetId,
      url,
      events,
      secret,
      active: true,
      createdBy: key.id,
    });
    return { webhook, secret };
  }

  /** A dataset's webhooks, oldest first. */
  async list(key: ApiKey, datasetId: string): Promise<Webhook[]> {
    await this.datasets.getAuthorized(key, datasetId, Permission.WRITE_DATASET);
    return this.ds
      .getRepository(Webhook)
      .find({ where: { datasetId }, order: { createdAt: 'ASC' } });
  }

  /** A webhook the key may manage, or NOT_FOUND. */
  async get(key: ApiKey, id: string): Promise<Webhook> {
    authorize(key, Permission.WRITE_DATASET);
    const webhook = isUuid(id) ? await this.ds.getRepository(Webhook).findOneBy({ id }) : null;
    if (!webhook) throw new NotFoundError('Webhook', id);
    authorizeRow(key, Permission.WRITE_DATASET, webhook.datasetId, 'Webhook', id);
    return webhook;
  }

  /** Deletes a webhook with its delivery log; pending deliveries are dropped. */
  async delete(key: ApiKey, id: string): Promise<Webhook> {
    const webhook = await this.get(key, id);
    await this.ds.getRepository(Webhook).delete({ id: webhook.id });
    return webhook;
  }

  /** Sends a PING delivery now (through the same queue, retries and log as any other). */
  async test(key: ApiKey, id: string): Promise<WebhookDelivery> {
    const webhook = await this.get(key, id);
    const deliveryId = await this.ds.transaction(async (m) => {
      const body = JSON.stringify({
        event: WebhookEventKind.PING,
        datasetId: webhook.datasetId,
        at: new Date().toISOString(),
        data: { webhookId: webhook.id },
      } satisfies WebhookBody);
      const [row] = await run<{ id: string }>(
        m,
        webhooksSql.insertDelivery(webhook.id, WebhookEventKind.PING, body),
      );
      await this.jobs.sendWebhookDeliveries(m, [String(row.id)]);
      return String(row.id);
    });
    this.jobs.wakeWebhookWorker();
    return this.ds.getRepository(WebhookDelivery).findOneByOrFail({ id: deliveryId });
  }

  /** A page of a webhook's deliveries, newest first. */
  async deliveries(
    key: ApiKey,
    webhookId: string,
    first?: number | null,
    after?: string | null,
  ): Promise<Page<WebhookDelivery>> {
    const webhook = await this.get(key, webhookId);
    return this.deliveriesOf(webhook.id, first, after);
  }

  /**
   * A page of the deliveries of a webhook already authorized (a field of it): at most
   * {@link MAX_DELIVERIES_LISTED}, {@link DEFAULT_DELIVERIES_LISTED} by default.
   */
  async deliveriesOf(
    webhookId: string,
    first?: number | null,
    after?: string | null,
  ): Promise<Page<WebhookDelivery>> {
    const page = await keysetPage<WebhookDelivery>(this.ds, {
      ...webhooksSql.deliveryListing(webhookId),
      kind: 'webhookDelivery',
      first: first ?? DEFAULT_DELIVERIES_LISTED,
      after,
      max: MAX_DELIVERIES_LISTED,
    });
    return { ...page, nodes: page.nodes.map((r) => ({ ...r, id: String(r.id) })) };
  }

  /**
   * The outbox: records that `o` happened, in the caller's transaction, as one delivery per
   * listening webhook and the jobs that send them.
   */
  async record(m: Queryable, o: Occurrence): Promise<void> {
    const rows = returnedRows<{ id: string }>(
      await run(m, webhooksSql.insertDeliveries(o.datasetId, o.kind, webhookBody(o))),
    );
    if (rows.length === 0) return;
    await this.enqueue(
      m,
      rows.map((r) => String(r.id)),
    );
  }

  /** Enqueues the sending of deliveries written in the caller's transaction. */
  async enqueue(m: Queryable, deliveryIds: string[]): Promise<void> {
    await this.jobs.sendWebhookDeliveries(m, deliveryIds);
  }

  private readonly lastExhausted = new Map<string, number>();

  /**
   * A BUDGET_EXHAUSTED event for a request the dataset's budget refused (the refused work rolled
   * back, so this is recorded on its own). At most one per dataset per
   * {@link BUDGET_EXHAUSTED_EVERY_MS} from this process: a crowd of annotators claiming from a
   * spent budget is one event, not hundreds.
   */
  async budgetExhausted(datasetId: string, message: string): Promise<void> {
    const now = Date.now();
    if ((this.lastExhausted.get(datasetId) ?? -Infinity) > now - BUDGET_EXHAUSTED_EVERY_MS) return;
    if (this.lastExhausted.size > 10_000) this.lastExhausted.clear();
    this.lastExhausted.set(datasetId, now);
    await this.record(this.ds, {
      datasetId,
      kind: WebhookEventKind.BUDGET_EXHAUSTED,
      data: { message },
    });
    this.jobs.wakeWebhookWorker();
  }

  /** Marks a delivery's outcome (by the sender). */
  async finishAttempt(
    deliveryId: string,
    status: WebhookDeliveryStatus,
    responseStatus: number | null,
    error: string | null,
  ): Promise<void> {
    await run(
      this.ds,
      webhooksSql.finishAttempt(deliveryId, status, responseStatus, error?.slice(0, 1000) ?? null),
    );
  }
}
