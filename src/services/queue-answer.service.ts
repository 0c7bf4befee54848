import type { RoundCloser } from './round-closer';
import type { DataSource, EntityManager } from 'typeorm';
import { ApiKey, LabelQueryStatus, LabelSource, WebhookEventKind } from '../entities';
import { queueAnswers, queueSubmits } from '../metrics';
import { BadUserInputError, ConflictError, ForbiddenError, NotFoundError } from '../errors';
import { authorize, inScope, Permission } from './permissions';
import type { EventBus } from './event-bus';
import { QueueEventKind } from './event-bus';
import { DatasetService } from './dataset.service';
import { isBigintId, isUuid } from '../db/db-errors';
import { withIdempotency } from './idempotency';
import { writeCurrentLabels } from './label.service';
import { answerQuery, lockQueryStatus, queryWithClasses, settleQuery } from '../db/sql/queries.sql';
import { run } from '../db/sql/statement';
import { answeredSlot, answersOfQuery, changeAnswer, recordAnswer } from '../db/sql/slots.sql';
import { answerAlone, slotForAnswer } from '../db/sql/answers.sql';
import { webhookBody, type WebhookService } from './webhook.service';
import type { QueueListingService, QueueQuery } from './queue-listing.service';
import type { ClaimService } from './queue-claim.service';

export interface SubmitLabelInput {
  queryId: string;
  value: string;
  claimToken: string;
  idempotencyKey?: string | null;
}

export interface SubmitResult {
  queryId: string;
  value: string;
  /** The query's status after this answer: OPEN while more answers are needed. */
  status: LabelQueryStatus;
  replayed: boolean;
  /** The query after this answer (absent on a replay: read it again). */
  query?: QueueQuery;
}

/**
 * Answers to label queries and their consensus: a claim holder's answer (with k annotators per
 * query, the majority of k becomes the label, a tie goes to review) and a reviewer's resolution
 * of a tie.
 */
export class AnswerService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
    private readonly queues: QueueListingService,
    private readonly claims: ClaimService,
    private readonly events: EventBus,
    /** The webhook outbox (absent: answers record no deliveries). */
    private readonly webhooks?: WebhookService,
    /** Closes rounds whose last query an answer settled (absent: rounds stay OPEN). */
    private readonly closer?: RoundCloser,
  ) {}

  /**
   * Records the claim holder's answer. With one answer needed it becomes the item's HUMAN label
   * at once; with k, the query stays open until k distinct annotators answered, then the most
   * frequent answer becomes the label, or the query goes to NEEDS_REVIEW on a tie. Each answer
   * spends one budget unit. Safe to retry with the same idempotency key.
   */
  async submit(key: ApiKey, input: SubmitLabelInput): Promise<SubmitResult> {
    authorize(key, Permission.ANNOTATE);
    if (!isBigintId(input.queryId)) throw new NotFoundError('LabelQuery', input.queryId);
    let answered: QueueQuery | undefined;
    const { response, replayed } = await withIdempotency(
      this.ds,
      `submitLabel:${key.id}`,
      input.idempotencyKey,
      { queryId: input.queryId, value: input.value, claimToken: input.claimToken },
      async (m, record) => {
        // The slot, its query and its item, locked by one statement (slot first, as everywhere).
        const [slot] = isUuid(input.claimToken)
          ? await run<AnsweringSlot>(m, slotForAnswer(input.claimToken))
          : [];
        const usable =
          slot &&
          String(slot.id) === input.queryId &&
          slot.apiKeyId === key.id &&
          !slot.slotAnsweredAt &&
          (!key.datasetIds || inScope(key.datasetIds, slot.datasetId));
        if (!usable) return this.refuseSubmit(m, key, input);
        const { slotId, apiKeyId: _k, slotAnsweredAt: _a, expired, classes, ...query } = slot;
        const classIndex = classIndexOf(classes, input.value);
        if (query.status !== LabelQueryStatus.OPEN) {
          throw new ConflictError(
            `Query ${query.id} is ${query.status} (its round was closed or cancelled); the answer was not recorded.`,
          );
        }
        // The held unit becomes a spent one; a lapsed lease held nothing, so it needs a unit.
        if (expired)
          await this.claims.requireLapsedClaimBudget(
            m,
            query.datasetId,
            'Answering on a lapsed claim',
          );
        if (query.answersNeeded !== 1) {
          const outcome = await this.answerOfMany(m, key, slot, classIndex, input.value);
          answered = { ...query, ...outcome.query };
          return outcome.response;
        }
        const response = {
          queryId: query.id,
          value: input.value,
          status: LabelQueryStatus.ANSWERED,
        };
        const event = {
          type: 'queue' as const,
          kind: QueueEventKind.ANSWERED,
          datasetId: query.datasetId,
          roundId: query.roundId,
          queryIds: [query.id],
        };
        const bodies = this.webhooks && [
          webhookBody({
            datasetId: query.datasetId,
            kind: WebhookEventKind.QUERY_ANSWERED,
            data: { roundId: query.roundId, queryIds: [query.id] },
          }),
          webhookBody({
            datasetId: query.datasetId,
            kind: WebhookEventKind.LABEL_CREATED,
            data: {
              source: LabelSource.HUMAN,
              itemIds: [query.itemId],
              values: [input.value],
              queryId: query.id,
            },
          }),
        ];
        const statement = answerAlone({
          slotId,
          queryId: query.id,
          datasetId: query.datasetId,
          itemId: query.itemId,
          classIndex,
          apiKeyId: key.id,
          annotatorId: slot.annotatorId,
          notify: this.events.notification(event),
          webhookBodies: bodies ? [bodies[0], bodies[1]] : null,
          idempotency: record && {
            key: record.key,
            requestHash: record.requestHash,
            response: JSON.stringify(response),
          },
        });
        const [done] = await run<{ answeredAt: Date; deliveryIds: string[] | null }>(m, statement);
        if (record) record.written = true;
        if (done.deliveryIds?.length) await this.webhooks!.enqueue(m, done.deliveryIds);
        answered = {
          ...query,
          status: LabelQueryStatus.ANSWERED,
          resolvedClass: classIndex,
          answeredAt: done.answeredAt,
        };
        return response;
      },
    );
    if (replayed) return { ...response, replayed };
    queueSubmits.inc({ dataset_id: answered!.datasetId });
    if (response.status !== LabelQueryStatus.OPEN) {
      queueAnswers.inc({ dataset_id: answered!.datasetId, status: response.status });
      // Committed: the round's other queries may all be settled too.
      this.closer?.settled(answered!.roundId);
    }
    // What the transaction left, without reading it back.
    return { ...response, replayed, query: answered };
  }

  /**
   * The refusal of a submit whose claim cannot take this answer, with the error of the first
   * check that fails, in the order a caller sees them: the query (NOT_FOUND), the value
   * (BAD_USER_INPUT), then the claim (CONFLICT, FORBIDDEN, BAD_USER_INPUT for another query's
   * token).
   */
  private async refuseSubmit(
    m: EntityManager,
    key: ApiKey,
    input: SubmitLabelInput,
  ): Promise<never> {
    const { classes, ...query } = await this.readableQuery(key, input.queryId, true, m);
    classIndexOf(classes!, input.value);
    await this.claims.heldSlot(m, key, input.claimToken, query.id, true);
    throw new ConflictError('This claim cannot take this answer; claim again.');
  }

  /**
   * An answer to a query that needs k: recorded; once k distinct annotators answered, the most
   * frequent answer becomes the item's HUMAN label (a tie sends the query to NEEDS_REVIEW).
   */
  private async answerOfMany(
    m: EntityManager,
    key: ApiKey,
    slot: AnsweringSlot,
    classIndex: number,
    value: string,
  ): Promise<{
    response: { queryId: string; value: string; status: LabelQueryStatus };
    query: Partial<QueueQuery>;
  }> {
    const record = recordAnswer(slot.slotId, classIndex);
    await run(m, record);
    const answers = await run<{ c: number; a: string }>(m, answersOfQuery(slot.id));
    const event = {
      type: 'queue' as const,
      kind: QueueEventKind.ANSWERED,
      datasetId: slot.datasetId,
      roundId: slot.roundId,
      queryIds: [slot.id],
    };
    if (answers.length < slot.answersNeeded) {
      await this.events.publish(m, event);
      return { response: { queryId: slot.id, value, status: LabelQueryStatus.OPEN }, query: {} };
    }
    const resolved = mostFrequent(answers.map((a) => a.c));
    const status = resolved === null ? LabelQueryStatus.NEEDS_REVIEW : LabelQueryStatus.ANSWERED;
    if (resolved !== null) {
      await writeCurrentLabels(m, {
        datasetId: slot.datasetId,
        source: LabelSource.HUMAN,
        apiKeyId: null,
        itemIds: [slot.itemId],
        classIndexes: [resolved.classIndex],
        annotatorIds: [null],
        // A consensus label carries its share of agreeing answers.
        confidences: [resolved.count / answers.length],
      });
    }
    const resolvedClass = resolved?.classIndex ?? null;
    const settle = settleQuery(slot.id, status, resolvedClass, this.events.notification(event));
    const [done]: { answeredAt: Date }[] = await run(m, settle);
    await this.events.occurredInQueue(m, event);
    if (resolved !== null) {
      await this.events.occurred(m, {
        datasetId: slot.datasetId,
        kind: WebhookEventKind.LABEL_CREATED,
        data: {
          source: LabelSource.HUMAN,
          itemIds: [slot.itemId],
          values: [slot.classes[resolved.classIndex]],
          queryId: slot.id,
        },
      });
    }
    return {
      response: { queryId: slot.id, value, status },
      query: { status, resolvedClass, answeredAt: done.answeredAt },
    };
  }

  /**
   * Changes the answer given with a claim, while that claim's lease has not ended: the slot's
   * answer, and (one answer needed) the item's HUMAN label, which supersedes the first one. Spends
   * nothing more. CONFLICT when the claim was not answered, its lease ended, or its query was
   * settled by several annotators (a reviewer decides then); FORBIDDEN for another key's claim.
   */
  async change(key: ApiKey, claimToken: string, value: string): Promise<SubmitResult> {
    authorize(key, Permission.ANNOTATE);
    return this.ds.transaction(async (m) => {
      const select = answeredSlot(claimToken);
      const [slot]: AnsweredSlot[] = isUuid(claimToken) ? await run(m, select) : [];
      if (!slot || !slot.answeredAt) {
        throw new ConflictError(
          'This claim has no answer to change: submit an answer with submitLabel first.',
        );
      }
      if (slot.apiKeyId !== key.id) throw new ForbiddenError('This answer is someone else’s.');
      if (!slot.live) {
        throw new ConflictError(
          "This answer's lease has ended, so it can no longer be changed. Ask a reviewer to relabel the item.",
        );
      }
      const classIndex = slot.classes.indexOf(value);
      if (classIndex < 0) {
        throw new BadUserInputError(
          `${JSON.stringify(value)} is not a class of this dataset (${slot.classes.join(', ')}).`,
          [{ field: 'value', message: 'not a class of this dataset' }],
        );
      }
      const settledByMany = slot.answersNeeded > 1 && slot.status !== LabelQueryStatus.OPEN;
      if (settledByMany || slot.status === LabelQueryStatus.CANCELLED) {
        throw new ConflictError(
          `Query ${slot.queryId} is ${slot.status}${settledByMany ? ' by several annotators' : ''}; its answers can no longer be changed.`,
        );
      }
      if (classIndex !== slot.classIndex) {
        const change = changeAnswer(slot.id, classIndex);
        await run(m, change);
        if (slot.status === LabelQueryStatus.ANSWERED) {
          await writeCurrentLabels(m, {
            datasetId: slot.datasetId,
            source: LabelSource.HUMAN,
            apiKeyId: key.id,
            itemIds: [slot.itemId],
            classIndexes: [classIndex],
            annotatorIds: [slot.annotatorId],
            confidences: [null],
          });
        }
      }
      const [query] = await this.queues.queriesByIds([slot.queryId], m);
      return { queryId: slot.queryId, value, status: query.status, replayed: false, query };
    });
  }

  /**
   * Settles a tied query (NEEDS_REVIEW) with a reviewer's answer: it becomes the item's HUMAN
   * label and the query's resolved answer. Spends no budget.
   */
  async resolveReview(key: ApiKey, queryId: string, value: string): Promise<QueueQuery> {
    authorize(key, Permission.WRITE_LABELS);
    const query = await this.readableQuery(key, queryId);
    const dataset = await this.datasets.getAuthorized(
      key,
      query.datasetId,
      Permission.WRITE_LABELS,
    );
    const classIndex = dataset.classes.indexOf(value);
    if (classIndex < 0) {
      throw new BadUserInputError(
        `${JSON.stringify(value)} is not a class of this dataset (${dataset.classes.join(', ')}).`,
      );
    }
    const resolved = await this.ds.transaction(async (m) => {
      const lock = lockQueryStatus(query.id);
      const [locked] = await run(m, lock);
      if (locked.status !== LabelQueryStatus.NEEDS_REVIEW) {
        throw new ConflictError(`Query ${query.id} is ${locked.status}, not NEEDS_REVIEW.`);
      }
      await writeCurrentLabels(m, {
        datasetId: dataset.id,
        source: LabelSource.HUMAN,
        apiKeyId: key.id,
        itemIds: [query.itemId],
        classIndexes: [classIndex],
        annotatorIds: [null],
        confidences: [null],
      });
      const answer = answerQuery(query.id, classIndex);
      await run(m, answer);
      const [q] = await this.queues.queriesByIds([query.id], m);
      return q;
    });
    this.closer?.settled(resolved.roundId);
    return resolved;
  }

  /**
   * A query the key may see, or NOT_FOUND (queries outside its scope look missing); with
   * `withClasses`, its dataset's class names too (same statement).
   */
  private async readableQuery(
    key: ApiKey,
    queryId: string,
    withClasses = false,
    m: EntityManager = this.ds.manager,
  ): Promise<QueueQuery & { classes?: string[] }> {
    const select = queryWithClasses(queryId);
    const [query]: (QueueQuery & { classes?: string[] })[] = !isBigintId(queryId)
      ? []
      : withClasses
        ? await run(m, select)
        : await this.queues.queriesByIds([queryId], m);
    if (!query) throw new NotFoundError('LabelQuery', queryId);
    // Scope only: callers have checked the role (submit: ANNOTATE; review: WRITE_LABELS).
    if (key.datasetIds && !inScope(key.datasetIds, query.datasetId)) {
      throw new NotFoundError('LabelQuery', queryId);
    }
    return query;
  }
}

/** The slot a submit answers with, its query's columns and its dataset's classes. */
type AnsweringSlot = QueueQuery & {
  slotId: string;
  apiKeyId: string;
  annotatorId: string;
  slotAnsweredAt: Date | null;
  expired: boolean;
  classes: string[];
};

/** The index of class `value`, or BAD_USER_INPUT naming the dataset's classes. */
function classIndexOf(classes: string[], value: string): number {
  const classIndex = classes.indexOf(value);
  if (classIndex < 0) {
    throw new BadUserInputError(
      `${JSON.stringify(value)} is not a class of this dataset (${classes.join(', ')}).`,
      [{ field: 'value', message: 'not a class of this dataset' }],
    );
  }
  return classIndex;
}

interface AnsweredSlot {
  id: string;
  queryId: string;
  datasetId: string;
  apiKeyId: string;
  annotatorId: string;
  answeredAt: Date | null;
  classIndex: number | null;
  live: boolean;
  status: LabelQueryStatus;
  answersNeeded: number;
  itemId: string;
  classes: string[];
}

/** The most frequent value and its count, or null when two or more share the top count. */
export function mostFrequent(values: number[]): { classIndex: number; count: number } | null {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: { classIndex: number; count: number } | null = null;
  let tied = false;
  for (const [classIndex, count] of counts) {
    if (!best || count > best.count) {
      best = { classIndex, count };
      tied = false;
    } else if (count === best.count) {
      tied = true;
    }
  }
  return tied ? null : best;
}
