import type { DataSource } from 'typeorm';
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
  ) {}

  /**
   * Records the claim holder's answer. With one answer needed it becomes the item's HUMAN label
   * at once; with k, the query stays open until k distinct annotators answered, then the most
   * frequent answer becomes the label, or the query goes to NEEDS_REVIEW on a tie. Each answer
   * spends one budget unit. Safe to retry with the same idempotency key.
   */
  async submit(key: ApiKey, input: SubmitLabelInput): Promise<SubmitResult> {
    authorize(key, Permission.ANNOTATE);
    const { classes, ...query } = await this.readableQuery(key, input.queryId, true);
    const dataset = { id: query.datasetId, classes: classes! };
    const classIndex = dataset.classes.indexOf(input.value);
    if (classIndex < 0) {
      throw new BadUserInputError(
        `${JSON.stringify(input.value)} is not a class of this dataset (${dataset.classes.join(', ')}).`,
        [{ field: 'value', message: 'not a class of this dataset' }],
      );
    }
    let answeredAt: Date | null = null;
    let resolvedClass: number | null = null;
    const { response, replayed } = await withIdempotency(
      this.ds,
      `submitLabel:${key.id}`,
      input.idempotencyKey,
      { queryId: query.id, value: input.value, claimToken: input.claimToken },
      async (m) => {
        // The slot and its query, locked in one statement (slot first, as everywhere).
        const slot = await this.claims.heldSlot(m, key, input.claimToken, query.id, true);
        const locked = slot.query!;
        if (locked.status !== LabelQueryStatus.OPEN) {
          throw new ConflictError(
            `Query ${query.id} is ${locked.status} (its round was closed or cancelled); the answer was not recorded.`,
          );
        }
        // The held unit becomes a spent one; a lapsed lease held nothing, so it needs a unit.
        if (slot.expired)
          await this.claims.requireLapsedClaimBudget(m, dataset.id, 'Answering on a lapsed claim');
        const record = recordAnswer(slot.id, classIndex);
        await run(m, record);
        // With one answer needed, this is it; with k, the others are read.
        const others = answersOfQuery(query.id);
        const answers: { c: number; a: string }[] =
          locked.answersNeeded === 1
            ? [{ c: classIndex, a: slot.annotatorId }]
            : await run(m, others);
        const event = {
          type: 'queue' as const,
          kind: QueueEventKind.ANSWERED,
          datasetId: dataset.id,
          roundId: query.roundId,
          queryIds: [query.id],
        };
        let status = LabelQueryStatus.OPEN;
        if (answers.length >= locked.answersNeeded) {
          const resolved = mostFrequent(answers.map((a) => a.c));
          resolvedClass = resolved?.classIndex ?? null;
          if (resolved === null) {
            status = LabelQueryStatus.NEEDS_REVIEW;
          } else {
            status = LabelQueryStatus.ANSWERED;
            const single = locked.answersNeeded === 1;
            await writeCurrentLabels(m, {
              datasetId: dataset.id,
              source: LabelSource.HUMAN,
              apiKeyId: single ? key.id : null,
              itemIds: [locked.itemId],
              classIndexes: [resolved.classIndex],
              annotatorIds: [single ? slot.annotatorId : null],
              // A consensus label carries its share of agreeing answers.
              confidences: [single ? null : resolved.count / answers.length],
            });
          }
          const settle = settleQuery(
            query.id,
            status,
            resolvedClass,
            this.events.notification(event),
          );
          const [done]: { answeredAt: Date }[] = await run(m, settle);
          answeredAt = done.answeredAt;
          await this.events.occurredInQueue(m, event);
          if (status === LabelQueryStatus.ANSWERED) {
            await this.events.occurred(m, {
              datasetId: dataset.id,
              kind: WebhookEventKind.LABEL_CREATED,
              data: {
                source: LabelSource.HUMAN,
                itemIds: [locked.itemId],
                values: [input.value],
                queryId: query.id,
              },
            });
          }
        } else {
          await this.events.publish(m, event);
        }
        return { queryId: query.id, value: input.value, status };
      },
    );
    if (replayed) return { ...response, replayed };
    queueSubmits.inc({ dataset_id: dataset.id });
    if (response.status !== LabelQueryStatus.OPEN) {
      queueAnswers.inc({ dataset_id: dataset.id, status: response.status });
    }
    // What the transaction left, without reading it back.
    return {
      ...response,
      replayed,
      query: { ...query, status: response.status, resolvedClass, answeredAt },
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
    return this.ds.transaction(async (m) => {
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
  }

  /**
   * A query the key may see, or NOT_FOUND (queries outside its scope look missing); with
   * `withClasses`, its dataset's class names too (same statement).
   */
  private async readableQuery(
    key: ApiKey,
    queryId: string,
    withClasses = false,
  ): Promise<QueueQuery & { classes?: string[] }> {
    const select = queryWithClasses(queryId);
    const [query]: (QueueQuery & { classes?: string[] })[] = !isBigintId(queryId)
      ? []
      : withClasses
        ? await run(this.ds, select)
        : await this.queues.queriesByIds([queryId]);
    if (!query) throw new NotFoundError('LabelQuery', queryId);
    // Scope only: callers have checked the role (submit: ANNOTATE; review: WRITE_LABELS).
    if (key.datasetIds && !inScope(key.datasetIds, query.datasetId)) {
      throw new NotFoundError('LabelQuery', queryId);
    }
    return query;
  }
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
