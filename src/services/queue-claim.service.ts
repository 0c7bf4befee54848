import type { DataSource, EntityManager } from 'typeorm';
import { ApiKey, ApiKeyRole, LabelQueryStatus } from '../entities';
import { BadUserInputError, ConflictError, ForbiddenError, NotFoundError } from '../errors';
import * as budget from './budget';
import { requireInt } from './validate';
import { authorize, inScope, Permission } from './permissions';
import type { EventBus } from './event-bus';
import type { JobQueue } from '../jobs/job-queue';
import { queueClaimedQueries, queueClaims } from '../metrics';
import { QueueEventKind } from './event-bus';
import { DatasetService } from './dataset.service';
import { isUuid, returnedRows } from '../db/db-errors';
import { run } from '../db/sql/statement';
import {
  claimFreeSlots,
  freeSlot,
  heldSlot,
  heldSlotWithQuery,
  insertSkip,
  lockClaimsOfDataset,
  renewLease,
} from '../db/sql/slots.sql';
import type { QueueListingService, QueueQuery } from './queue-listing.service';

/** Most queries one claim hands out. */
export const MAX_CLAIM_COUNT = 100;
export const DEFAULT_LEASE_SECONDS = 300;
export const MIN_LEASE_SECONDS = 1;
export const MAX_LEASE_SECONDS = 3600;
const MAX_SKIP_REASON = 1000;
/** Most answers a query may need (annotationsPerItem's maximum). */
const MAX_ANSWERS = 100;

export interface Claim {
  token: string;
  expiresAt: Date;
  annotatorId: string;
  query: QueueQuery;
}

/** What a claim reads of its dataset (with the annotator's claim lock). */
interface ClaimDataset {
  id: string;
  annotationsPerItem: number;
  labelBudget: number | null;
}

/** A slot a claim took, with its query (as `claimFreeSlots` returns it). */
type TakenSlot = QueueQuery & {
  slotId: string;
  token: string;
  expiresAt: Date;
  freeRead: number;
  notified: number;
};

/** A slot held by a claim token, as {@link ClaimService.heldSlot} returns it. */
export interface HeldSlot {
  id: string;
  queryId: string;
  datasetId: string;
  annotatorId: string;
  expired: boolean;
  /** With `lockQuery`: the query's state, its row locked too. */
  query?: { status: LabelQueryStatus; answersNeeded: number; itemId: string };
}

/**
 * Claims of label queries: handing queries out with leases (k annotators per query, each at most
 * once), renewing, releasing and skipping them. Every claim-changing operation publishes a queue
 * event in its transaction. Answers are recorded by `AnswerService` through {@link heldSlot}.
 */
export class ClaimService {
  constructor(
    private readonly ds: DataSource,
    // Unused since a claim reads its dataset with its lock; kept for the callers' shape.
    _datasets: DatasetService,
    private readonly queues: QueueListingService,
    private readonly events: EventBus,
    /** Lease checks (LEASE_EXPIRED events); without it, leases lapse silently. */
    private readonly jobs?: JobQueue,
  ) {}

  /**
   * Hands the caller up to `count` queries nobody else holds, each with a lease. A query that
   * needs k answers can be held by k annotators at once, never twice by the same one, and never
   * again by one who answered or skipped it. Expired leases count as free: no sweeper needed.
   */
  async claim(
    key: ApiKey,
    datasetId: string,
    count: number,
    leaseSeconds: number = DEFAULT_LEASE_SECONDS,
    annotatorId?: string | null,
  ): Promise<Claim[]> {
    authorize(key, Permission.ANNOTATE, datasetId);
    if (!isUuid(datasetId)) throw new NotFoundError('Dataset', datasetId);
    const claims = await this.ds.transaction(async (m) => {
      // One claim at a time per annotator and dataset, whatever annotationsPerItem is now: a
      // query opened when it was higher still needs several answers, and two concurrent claims
      // of one person must not take two slots of it. The lock comes with the dataset's row.
      // (Lower case: uuids are read in either case, and the lock must be one whichever is sent.)
      const lock = lockClaimsOfDataset(datasetId.toLowerCase(), annotatorId ?? key.id);
      const [dataset] = await run<ClaimDataset>(m, lock);
      if (!dataset) throw new NotFoundError('Dataset', datasetId);
      requireInt(count, 'count', { min: 1, max: MAX_CLAIM_COUNT });
      checkLease(leaseSeconds);
      const annotator = annotatorOf(key, annotatorId);
      const wanted = await this.budgetedClaimCount(m, dataset, count);
      return this.takeSlots(m, key, dataset, annotator, wanted, leaseSeconds);
    });
    if (claims.length > 0) {
      const claimed = claims[0].datasetId;
      this.jobs?.queueLeaseCheck(
        { datasetId: claimed, tokens: claims.map((h) => h.token) },
        leaseSeconds,
      );
      queueClaims.inc({ dataset_id: claimed });
      queueClaimedQueries.inc({ dataset_id: claimed }, claims.length);
    }
    return claims.map(
      ({ slotId: _slot, freeRead: _read, notified: _n, token, expiresAt, ...query }) => ({
        token,
        expiresAt,
        annotatorId: annotatorId ?? key.id,
        query,
      }),
    );
  }

  /**
   * Takes up to `wanted` free slots of different queries for `annotator`, in queue order, and
   * publishes CLAIMED for them, each read in one statement. A query has up to k free slots (k:
   * the dataset's annotationsPerItem when the query opened, which may be above today's), so a
   * read of `wanted * k` slots may hold fewer than `wanted` queries: then a larger read takes
   * the rest, as long as the last one came back full (the slots taken are the annotator's now,
   * so their queries are passed over).
   */
  private async takeSlots(
    m: EntityManager,
    key: ApiKey,
    dataset: ClaimDataset,
    annotator: string,
    wanted: number,
    leaseSeconds: number,
  ): Promise<TakenSlot[]> {
    const taken: TakenSlot[] = [];
    let read = wanted * dataset.annotationsPerItem;
    for (;;) {
      const [channel, event] = this.events.notification({
        type: 'queue',
        kind: QueueEventKind.CLAIMED,
        datasetId: dataset.id,
        roundId: null,
        queryIds: [],
      });
      const rows = await run<TakenSlot>(
        m,
        claimFreeSlots({
          datasetId: dataset.id,
          annotatorId: annotator,
          read,
          take: wanted - taken.length,
          apiKeyId: key.id,
          leaseSeconds,
          channel,
          event,
        }),
      );
      taken.push(...rows);
      const freeRead = rows[0]?.freeRead ?? 0;
      if (taken.length >= wanted || freeRead < read || read >= wanted * MAX_ANSWERS) return taken;
      read = Math.min(read * 4, wanted * MAX_ANSWERS);
    }
  }

  /** Extends a claim's lease (from now). A lapsed lease nobody took over may be renewed too. */
  async renew(key: ApiKey, token: string, leaseSeconds: number = DEFAULT_LEASE_SECONDS) {
    authorize(key, Permission.ANNOTATE);
    checkLease(leaseSeconds);
    return this.ds.transaction(async (m) => {
      const slot = await this.heldSlot(m, key, token);
      if (slot.expired)
        await this.requireLapsedClaimBudget(m, slot.datasetId, 'Renewing a lapsed claim');
      const renew = renewLease(slot.id, leaseSeconds);
      const [row] = returnedRows<{ expiresAt: Date }>(await run(m, renew));
      const [query] = await this.queues.queriesByIds([slot.queryId], m);
      return { token, expiresAt: row.expiresAt, annotatorId: slot.annotatorId, query };
    });
  }

  /** Gives a claimed query back to the queue at once. */
  async release(key: ApiKey, token: string): Promise<QueueQuery> {
    authorize(key, Permission.ANNOTATE);
    return this.ds.transaction(async (m) => {
      const slot = await this.heldSlot(m, key, token);
      return this.giveBack(m, slot, QueueEventKind.RELEASED);
    });
  }

  /**
   * Passes on a claimed query: it goes back to the queue for others, and this annotator is not
   * offered it again. The reason is kept. A skip spends no budget.
   */
  async skip(key: ApiKey, token: string, reason?: string | null): Promise<QueueQuery> {
    authorize(key, Permission.ANNOTATE);
    if (reason !== undefined && reason !== null && reason.length > MAX_SKIP_REASON) {
      throw new BadUserInputError(
        `reason must be at most ${MAX_SKIP_REASON} characters; got ${reason.length}.`,
      );
    }
    return this.ds.transaction(async (m) => {
      const slot = await this.heldSlot(m, key, token);
      const skip = insertSkip(
        slot.queryId,
        slot.datasetId,
        key.id,
        slot.annotatorId,
        reason ?? null,
      );
      await run(m, skip);
      return this.giveBack(m, slot, QueueEventKind.SKIPPED);
    });
  }

  /**
   * The slot a claim token holds, locked: CONFLICT when the token is no longer valid (the lease
   * lapsed and someone else claimed the query, or it was released, skipped or answered),
   * FORBIDDEN when another key holds it; BAD_USER_INPUT when `queryId` is given and the token is
   * for another query. With `lockQuery`, the query's row is locked too (slot first) and its
   * state returned.
   */
  async heldSlot(
    m: EntityManager,
    key: ApiKey,
    token: string,
    queryId?: string,
    lockQuery = false,
  ): Promise<HeldSlot> {
    const select = lockQuery ? heldSlotWithQuery(token) : heldSlot(token);
    const [slot] = isUuid(token)
      ? await run<HeldSlot & { apiKeyId: string; answeredAt: Date | null }>(m, select)
      : [];
    // A token of a dataset outside the key's scope answers as an unknown one: nothing tells
    // the caller that it exists.
    if (!slot || (key.datasetIds && !inScope(key.datasetIds, slot.datasetId))) {
      throw new ConflictError(
        'This claim is no longer valid: its lease expired and the query was claimed by someone else, or it was released or skipped. Claim again.',
      );
    }
    if (slot.apiKeyId !== key.id) {
      throw new ForbiddenError('This query is claimed by someone else.');
    }
    if (queryId !== undefined && slot.queryId !== queryId) {
      throw new BadUserInputError(
        `This claim token is for query ${slot.queryId}, not ${queryId}.`,
        [{ field: 'claimToken', message: `belongs to query ${slot.queryId}` }],
      );
    }
    if (slot.answeredAt) {
      throw new ConflictError(
        'This claim was already answered. To retry a submit safely, send the same idempotencyKey.',
      );
    }
    return slot as HeldSlot;
  }

  /** Frees a held slot, publishes `kind` for its query, and returns the query. */
  private async giveBack(
    m: EntityManager,
    slot: HeldSlot,
    kind: QueueEventKind.RELEASED | QueueEventKind.SKIPPED,
  ): Promise<QueueQuery> {
    const free = freeSlot(slot.id);
    await run(m, free);
    await this.events.publish(m, {
      type: 'queue',
      kind,
      datasetId: slot.datasetId,
      roundId: null,
      queryIds: [slot.queryId],
    });
    const [query] = await this.queues.queriesByIds([slot.queryId], m);
    return query;
  }

  /**
   * How many of `count` queries a claim may take: all without a budget, else at most what
   * claims may still take (BUDGET_EXHAUSTED when nothing), the budget locked until the
   * transaction ends.
   */
  private async budgetedClaimCount(
    m: EntityManager,
    dataset: ClaimDataset,
    count: number,
  ): Promise<number> {
    if (dataset.labelBudget === null) return count;
    const b = await budget.lockBudget(m, dataset.id);
    budget.requireClaimable(b, 1, { what: 'A claim', instead: 'answer or release claims' });
    return Math.min(count, b.claimable ?? count);
  }

  /**
   * BUDGET_EXHAUSTED unless a unit may still be claimed, for a claim whose lease lapsed (it held
   * no unit) before it is renewed or answered; `what` names that action in the message.
   */
  async requireLapsedClaimBudget(m: EntityManager, datasetId: string, what: string): Promise<void> {
    const b = await budget.lockBudget(m, datasetId);
    budget.requireClaimable(b, 1, { what, instead: 'claim again later' });
  }
}

function checkLease(leaseSeconds: number): void {
  requireInt(leaseSeconds, 'leaseSeconds', { min: MIN_LEASE_SECONDS, max: MAX_LEASE_SECONDS });
}

/**
 * Who is answering: an ANNOTATOR key always answers as itself; a SERVICE or ADMIN key (a
 * labelling tool acting for its users) may name the person.
 */
function annotatorOf(key: ApiKey, annotatorId: string | null | undefined): string {
  if (annotatorId === undefined || annotatorId === null) return key.id;
  if (key.role === ApiKeyRole.ANNOTATOR) {
    throw new ForbiddenError(
      'An ANNOTATOR key always answers as itself; annotatorId is for tools that act for several people with one key.',
    );
  }
  if (annotatorId.length < 1 || annotatorId.length > 200) {
    throw new BadUserInputError('annotatorId must be 1 to 200 characters.');
  }
  return annotatorId;
}
