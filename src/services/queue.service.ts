import type { DataSource, EntityManager } from 'typeorm';
import { ApiKey, ApiKeyRole, LabelQuery, LabelQueryStatus, LabelSource } from '../entities';
import { BadUserInputError, ConflictError, ForbiddenError, NotFoundError } from '../errors';
import { authorize, inScope, Permission } from './permissions';
import type { EventBus } from './event-bus';
import { QueueEventKind } from './event-bus';
import { DatasetService } from './dataset.service';
import { isBigintId, isUuid, returnedRows } from '../db/db-errors';
import { withIdempotency } from './idempotency';
import { writeCurrentLabels } from './label.service';
import { pageSize, type Page } from './pagination';
import * as budget from './budget';

/** Most queries one claim hands out. */
export const MAX_CLAIM_COUNT = 100;
export const DEFAULT_LEASE_SECONDS = 300;
export const MIN_LEASE_SECONDS = 1;
export const MAX_LEASE_SECONDS = 3600;
const MAX_SKIP_REASON = 1000;

/** Lock class of `pg_advisory_xact_lock(class, key)`: per-annotator claims. */
const ANNOTATOR_LOCK = 7301;

/** A query row as the queue lists it, with the model whose prediction is its pre-label. */
export interface QueueQuery extends LabelQuery {
  /** The round's first model: its prediction of the item is the query's pre-label. */
  preLabelModelId: string | null;
}

export interface Claim {
  token: string;
  expiresAt: Date;
  annotatorId: string;
  query: QueueQuery;
}

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

/** What `dataset.budget` shows of a dataset's budget (see `./budget`, the one definition). */
export type Budget = Pick<
  budget.DatasetBudget,
  'datasetId' | 'total' | 'spent' | 'held' | 'remaining'
>;
export type { MechanismBudget } from './budget';

export interface QueryAnswer {
  queryId: string;
  annotatorId: string;
  classIndex: number;
  answeredAt: Date;
}

export interface AnnotatorAgreement {
  annotatorId: string;
  /** Answers to multi-annotator queries whose answers are all in. */
  answers: number;
  /** Of those, answers equal to the resolved (most frequent) answer. */
  agreed: number;
  /** Answers to queries that ended tied (NEEDS_REVIEW and not yet resolved). */
  tied: number;
  /** agreed / (answers − tied); null before any resolved answer. */
  rate: number | null;
}

const QUERY_COLUMNS = `q.id, q.dataset_id AS "datasetId", q.round_id AS "roundId", q.item_id AS "itemId",
  q.rank, q.score, q.reason, q.status, q.created_at AS "createdAt", q.answered_at AS "answeredAt",
  q.answers_needed AS "answersNeeded", q.resolved_class AS "resolvedClass",
  r.model_ids[1] AS "preLabelModelId"`;

/*
 * Order of the queue: the newest open round first (a newer round was chosen with a newer model),
 * then by rank (1 = the item the strategy wanted most). Claims hand out in the same order.
 */

interface QueueCursor {
  /** Round creation time, microseconds since the epoch (timestamptz precision). */
  t: string;
  r: string;
  k: number;
}

function encodeQueueCursor(c: QueueCursor): string {
  return Buffer.from(`lq:${c.t}:${c.r}:${c.k}`).toString('base64url');
}

function decodeQueueCursor(cursor: string | null | undefined): QueueCursor | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const parts = Buffer.from(cursor, 'base64url').toString().split(':');
  const [kind, t, r, k] = parts;
  if (parts.length !== 4 || kind !== 'lq' || !/^\d+$/.test(t) || !isUuid(r) || !/^\d+$/.test(k)) {
    throw new BadUserInputError(`after: ${JSON.stringify(cursor)} is not a cursor of this queue.`);
  }
  return { t, r, k: Number(k) };
}

/**
 * Label queues: listing, claims with leases, answers (with k annotators per query), skips, the
 * label budget. Every claim-changing operation publishes a queue event in its transaction.
 */
export class QueueService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
    private readonly events: EventBus,
  ) {}

  /** A page of the dataset's open queries in queue order. */
  async queue(
    key: ApiKey,
    datasetId: string,
    first?: number | null,
    after?: string | null,
  ): Promise<Page<QueueQuery>> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_DATASET);
    const limit = pageSize(first);
    const cursor = decodeQueueCursor(after);
    const params: unknown[] = [dataset.id, limit + 1];
    let keyset = '';
    if (cursor) {
      params.push(cursor.t, cursor.r, cursor.k);
      keyset = `AND (r.t < $3::bigint OR (r.t = $3::bigint AND (r.id < $4::uuid OR (r.id = $4::uuid AND q.rank > $5))))`;
    }
    // Each open round's queue is read in rank order through its index, newest round first,
    // and only as far as the page needs: never a sort of the whole queue.
    const rows: (QueueQuery & { t: string })[] = await this.ds.query(
      `SELECT x.*, r.t::text AS t
       FROM (SELECT id, created_at, model_ids, (extract(epoch FROM created_at) * 1000000)::bigint AS t
             FROM round WHERE dataset_id = $1 AND status = 'OPEN') r
       CROSS JOIN LATERAL (
         SELECT ${QUERY_COLUMNS}
         FROM label_query q
         WHERE q.dataset_id = $1 AND q.round_id = r.id AND q.status = 'OPEN' ${keyset}
         ORDER BY q.rank
         LIMIT $2
       ) x
       ORDER BY r.created_at DESC, r.id DESC, x.rank
       LIMIT $2`,
      params,
    );
    const nodes = rows.slice(0, limit);
    return {
      nodes,
      cursors: nodes.map((n) => encodeQueueCursor({ t: n.t, r: n.roundId, k: n.rank })),
      hasNextPage: rows.length > limit,
      hasPreviousPage: cursor !== undefined,
      totalCount: async () => {
        const [{ n }] = await this.ds.query(
          `SELECT count(*)::int AS n FROM label_query WHERE dataset_id = $1 AND status = 'OPEN'`,
          [dataset.id],
        );
        return n;
      },
    };
  }

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
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.ANNOTATE);
    if (!Number.isInteger(count) || count < 1 || count > MAX_CLAIM_COUNT) {
      throw new BadUserInputError(
        `count must be an integer from 1 to ${MAX_CLAIM_COUNT}; got ${count}.`,
      );
    }
    checkLease(leaseSeconds);
    const annotator = annotatorOf(key, annotatorId);
    // A query needs at most k answers (the dataset's annotationsPerItem when it opened).
    const k = dataset.annotationsPerItem;
    const claims = await this.ds.transaction(async (m) => {
      // With k > 1, one claim at a time per annotator, so two claims of one person never take
      // two slots of one query; claims of different annotators always run side by side.
      if (k > 1) {
        await m.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
          ANNOTATOR_LOCK,
          `${dataset.id}:${annotator}`,
        ]);
      }
      let wanted = count;
      if (dataset.labelBudget !== null) {
        const b = await budget.lockBudget(m, dataset.id);
        budget.requireRemaining(b, 1, { what: 'A claim', instead: 'answer or release claims' });
        wanted = Math.min(count, b.remaining ?? count);
      }
      // Slots are locked, not queries: whether a slot is free is in its own row, so a claimer
      // that meets a slot another just took re-reads it (PostgreSQL's recheck of locked rows)
      // and passes over it. Each open round's queue is walked in rank order through its index
      // (never a sort of the whole queue), newest round first. Up to k slots of one query may
      // come back; one is kept per query.
      const free: { id: string; queryId: string }[] = await m.query(
        `SELECT x.id, x."queryId"
         FROM (SELECT id, created_at FROM round WHERE dataset_id = $1 AND status = 'OPEN') r
         CROSS JOIN LATERAL (
           SELECT s.id, s.query_id AS "queryId", q.rank, s.slot
           FROM label_query q JOIN query_slot s ON s.query_id = q.id
           WHERE q.dataset_id = $1 AND q.round_id = r.id AND q.status = 'OPEN'
             AND s.answered_at IS NULL
             AND (s.lease_expires_at IS NULL OR s.lease_expires_at <= now())
             AND NOT EXISTS (SELECT 1 FROM query_slot o WHERE o.query_id = s.query_id AND o.annotator_id = $2
                               AND o.id <> s.id AND (o.answered_at IS NOT NULL OR o.lease_expires_at > now()))
             AND NOT EXISTS (SELECT 1 FROM query_skip x WHERE x.query_id = s.query_id AND x.annotator_id = $2)
           ORDER BY q.rank, s.slot
           LIMIT $3
           FOR UPDATE OF s SKIP LOCKED
         ) x
         ORDER BY r.created_at DESC, r.id DESC, x.rank, x.slot
         LIMIT $3`,
        [dataset.id, annotator, wanted * k],
      );
      const seen = new Set<string>();
      const picked: string[] = [];
      for (const s of free) {
        if (picked.length === wanted) break;
        if (seen.has(s.queryId)) continue;
        seen.add(s.queryId);
        picked.push(s.id);
      }
      if (picked.length === 0) return [];
      // The claim and the queries it hands out, in one statement.
      const held: (QueueQuery & { slotId: string; token: string; expiresAt: Date })[] =
        await m.query(
          `WITH u AS (
             UPDATE query_slot SET claim_token = gen_random_uuid(), api_key_id = $2, annotator_id = $3,
               claimed_at = now(), lease_expires_at = now() + make_interval(secs => $4)
             WHERE id = ANY($1::bigint[])
             RETURNING id, query_id, claim_token, lease_expires_at)
           SELECT u.id AS "slotId", u.claim_token AS token, u.lease_expires_at AS "expiresAt", ${QUERY_COLUMNS}
           FROM u JOIN label_query q ON q.id = u.query_id JOIN round r ON r.id = q.round_id`,
          [picked, key.id, annotator, leaseSeconds],
        );
      // In queue order, as they were chosen.
      const position = new Map(picked.map((id, i) => [id, i]));
      held.sort((a, b) => position.get(a.slotId)! - position.get(b.slotId)!);
      await this.events.publish(m, {
        type: 'queue',
        kind: QueueEventKind.CLAIMED,
        datasetId: dataset.id,
        roundId: null,
        queryIds: held.map((h) => h.id),
      });
      return held;
    });
    return claims.map(({ slotId: _slot, token, expiresAt, ...query }) => ({
      token,
      expiresAt,
      annotatorId: annotator,
      query,
    }));
  }

  /** Extends a claim's lease (from now). A lapsed lease nobody took over may be renewed too. */
  async renew(key: ApiKey, token: string, leaseSeconds: number = DEFAULT_LEASE_SECONDS) {
    authorize(key, Permission.ANNOTATE);
    checkLease(leaseSeconds);
    return this.ds.transaction(async (m) => {
      const slot = await this.heldSlot(m, key, token);
      if (slot.expired) await lapsedClaimBudget(m, slot.datasetId, 'Renewing a lapsed claim');
      const [row] = returnedRows<{ expiresAt: Date }>(
        await m.query(
          `UPDATE query_slot SET lease_expires_at = now() + make_interval(secs => $2)
           WHERE id = $1 RETURNING lease_expires_at AS "expiresAt"`,
          [slot.id, leaseSeconds],
        ),
      );
      const [query] = await this.queriesByIds([slot.queryId], m);
      return { token, expiresAt: row.expiresAt, annotatorId: slot.annotatorId, query };
    });
  }

  /** Gives a claimed query back to the queue at once. */
  async release(key: ApiKey, token: string): Promise<QueueQuery> {
    authorize(key, Permission.ANNOTATE);
    return this.ds.transaction(async (m) => {
      const slot = await this.heldSlot(m, key, token);
      await this.freeSlot(m, slot.id);
      await this.events.publish(m, {
        type: 'queue',
        kind: QueueEventKind.RELEASED,
        datasetId: slot.datasetId,
        roundId: null,
        queryIds: [slot.queryId],
      });
      const [query] = await this.queriesByIds([slot.queryId], m);
      return query;
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
      await m.query(
        `INSERT INTO query_skip (query_id, dataset_id, api_key_id, annotator_id, reason) VALUES ($1, $2, $3, $4, $5)`,
        [slot.queryId, slot.datasetId, key.id, slot.annotatorId, reason ?? null],
      );
      await this.freeSlot(m, slot.id);
      await this.events.publish(m, {
        type: 'queue',
        kind: QueueEventKind.SKIPPED,
        datasetId: slot.datasetId,
        roundId: null,
        queryIds: [slot.queryId],
      });
      const [query] = await this.queriesByIds([slot.queryId], m);
      return query;
    });
  }

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
        const slot = await this.heldSlot(m, key, input.claimToken, query.id, true);
        const locked = slot.query!;
        if (locked.status !== LabelQueryStatus.OPEN) {
          throw new ConflictError(
            `Query ${query.id} is ${locked.status} (its round was closed or cancelled); the answer was not recorded.`,
          );
        }
        // The held unit becomes a spent one; a lapsed lease held nothing, so it needs a unit.
        if (slot.expired) await lapsedClaimBudget(m, dataset.id, 'Answering on a lapsed claim');
        await m.query(
          'UPDATE query_slot SET class_index = $2, answered_at = now(), lease_expires_at = NULL WHERE id = $1',
          [slot.id, classIndex],
        );
        // With one answer needed, this is it; with k, the others are read.
        const answers: { c: number; a: string }[] =
          locked.answersNeeded === 1
            ? [{ c: classIndex, a: slot.annotatorId }]
            : await m.query(
                'SELECT class_index AS c, annotator_id AS a FROM query_slot WHERE query_id = $1 AND answered_at IS NOT NULL',
                [query.id],
              );
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
          // The query's new state and its event in one statement.
          const [done]: { answeredAt: Date }[] = await m.query(
            `WITH u AS (UPDATE label_query SET status = $2, resolved_class = $3, answered_at = now()
                        WHERE id = $1 RETURNING answered_at)
             SELECT u.answered_at AS "answeredAt", pg_notify($4, $5) FROM u`,
            [query.id, status, resolvedClass, ...this.events.notification(event)],
          );
          answeredAt = done.answeredAt;
        } else {
          await this.events.publish(m, event);
        }
        return { queryId: query.id, value: input.value, status };
      },
    );
    if (replayed) return { ...response, replayed };
    // What the transaction left, without reading it back.
    return {
      ...response,
      replayed,
      query: { ...query, status: response.status, resolvedClass, answeredAt },
    };
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
      const [locked] = await m.query('SELECT status FROM label_query WHERE id = $1 FOR UPDATE', [
        query.id,
      ]);
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
      await m.query(
        `UPDATE label_query SET status = 'ANSWERED', resolved_class = $2, answered_at = now() WHERE id = $1`,
        [query.id, classIndex],
      );
      const [q] = await this.queriesByIds([query.id], m);
      return q;
    });
  }

  /** Datasets' budgets (see `./budget`), for DataLoader. */
  async budgets(datasetIds: readonly string[], m: EntityManager = this.ds.manager) {
    return budget.readBudgets(m, datasetIds);
  }

  /** Each dataset's budget use by mechanism (see `./budget`), for DataLoader. */
  async budgetsByMechanism(datasetIds: readonly string[]) {
    return budget.budgetsByMechanism(this.ds.manager, datasetIds);
  }

  /** Each query's answers so far, for DataLoader. */
  async answersByQueryIds(queryIds: readonly string[]): Promise<QueryAnswer[][]> {
    const rows: QueryAnswer[] = await this.ds.query(
      `SELECT query_id AS "queryId", annotator_id AS "annotatorId", class_index AS "classIndex",
              answered_at AS "answeredAt"
       FROM query_slot WHERE query_id = ANY($1::bigint[]) AND answered_at IS NOT NULL
       ORDER BY answered_at, id`,
      [queryIds],
    );
    const byQuery = new Map<string, QueryAnswer[]>(queryIds.map((id) => [id, []]));
    for (const r of rows) byQuery.get(r.queryId)?.push(r);
    return queryIds.map((id) => byQuery.get(id)!);
  }

  /** Live claims and answers of each query, for DataLoader. */
  async progressByQueryIds(
    queryIds: readonly string[],
  ): Promise<{ answered: number; held: number }[]> {
    const rows: { queryId: string; answered: number; held: number }[] = await this.ds.query(
      `SELECT query_id AS "queryId",
              count(*) FILTER (WHERE answered_at IS NOT NULL)::int AS answered,
              count(*) FILTER (WHERE answered_at IS NULL AND lease_expires_at > now())::int AS held
       FROM query_slot WHERE query_id = ANY($1::bigint[]) GROUP BY query_id`,
      [queryIds],
    );
    const byQuery = new Map(rows.map((r) => [r.queryId, r]));
    return queryIds.map((id) => byQuery.get(id) ?? { answered: 0, held: 0 });
  }

  /** How often each annotator agreed with the resolved answer of multi-annotator queries. */
  async agreement(key: ApiKey, datasetId: string): Promise<AnnotatorAgreement[]> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_LABELS);
    const rows: Omit<AnnotatorAgreement, 'rate'>[] = await this.ds.query(
      `SELECT s.annotator_id AS "annotatorId", count(*)::int AS answers,
              count(*) FILTER (WHERE s.class_index = q.resolved_class)::int AS agreed,
              count(*) FILTER (WHERE q.resolved_class IS NULL)::int AS tied
       FROM query_slot s JOIN label_query q ON q.id = s.query_id
       WHERE s.dataset_id = $1 AND s.answered_at IS NOT NULL AND q.answers_needed > 1
         AND q.status IN ('ANSWERED', 'NEEDS_REVIEW')
       GROUP BY s.annotator_id ORDER BY s.annotator_id`,
      [dataset.id],
    );
    return rows.map((r) => ({
      ...r,
      rate: r.answers - r.tied > 0 ? r.agreed / (r.answers - r.tied) : null,
    }));
  }

  async queriesByIds(ids: readonly string[], m: EntityManager = this.ds.manager) {
    const rows: QueueQuery[] = await m.query(
      `SELECT ${QUERY_COLUMNS} FROM label_query q JOIN round r ON r.id = q.round_id
       WHERE q.id = ANY($1::bigint[])`,
      [ids],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id)!).filter(Boolean);
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
    const [query]: (QueueQuery & { classes?: string[] })[] = !isBigintId(queryId)
      ? []
      : withClasses
        ? await this.ds.query(
            `SELECT ${QUERY_COLUMNS}, d.classes FROM label_query q
             JOIN round r ON r.id = q.round_id JOIN dataset d ON d.id = q.dataset_id
             WHERE q.id = $1`,
            [queryId],
          )
        : await this.queriesByIds([queryId]);
    if (!query) throw new NotFoundError('LabelQuery', queryId);
    // Scope only: callers have checked the role (submit: ANNOTATE; review: WRITE_LABELS).
    if (key.datasetIds && !inScope(key.datasetIds, query.datasetId)) {
      throw new NotFoundError('LabelQuery', queryId);
    }
    return query;
  }

  /**
   * The slot a claim token holds, locked: CONFLICT when the token is no longer valid (the lease
   * lapsed and someone else claimed the query, or it was released, skipped or answered),
   * FORBIDDEN when another key holds it.
   */
  private async heldSlot(
    m: EntityManager,
    key: ApiKey,
    token: string,
    queryId?: string,
    lockQuery = false,
  ) {
    const [slot] = isUuid(token)
      ? await m.query(
          lockQuery
            ? `SELECT s.id, s.query_id AS "queryId", s.dataset_id AS "datasetId", s.api_key_id AS "apiKeyId",
                      s.annotator_id AS "annotatorId", s.answered_at AS "answeredAt",
                      s.lease_expires_at <= now() AS expired,
                      json_build_object('status', q.status, 'answersNeeded', q.answers_needed,
                                        'itemId', q.item_id::text) AS query
               FROM query_slot s JOIN label_query q ON q.id = s.query_id
               WHERE s.claim_token = $1 FOR UPDATE`
            : `SELECT id, query_id AS "queryId", dataset_id AS "datasetId", api_key_id AS "apiKeyId",
                      annotator_id AS "annotatorId", answered_at AS "answeredAt",
                      lease_expires_at <= now() AS expired
               FROM query_slot WHERE claim_token = $1 FOR UPDATE`,
          [token],
        )
      : [];
    if (!slot) {
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
    return slot as {
      id: string;
      queryId: string;
      datasetId: string;
      annotatorId: string;
      expired: boolean;
      /** With `lockQuery`: the query's state, its row locked too. */
      query?: { status: LabelQueryStatus; answersNeeded: number; itemId: string };
    };
  }

  private async freeSlot(m: EntityManager, slotId: string): Promise<void> {
    await m.query(
      `UPDATE query_slot SET claim_token = NULL, api_key_id = NULL, annotator_id = NULL,
         claimed_at = NULL, lease_expires_at = NULL WHERE id = $1`,
      [slotId],
    );
  }
}

/** A lapsed lease held no unit: the claim needs one again, under the budget lock. */
async function lapsedClaimBudget(m: EntityManager, datasetId: string, what: string) {
  const b = await budget.lockBudget(m, datasetId);
  budget.requireRemaining(b, 1, { what, instead: 'claim again later' });
}

function checkLease(leaseSeconds: number): void {
  if (
    !Number.isInteger(leaseSeconds) ||
    leaseSeconds < MIN_LEASE_SECONDS ||
    leaseSeconds > MAX_LEASE_SECONDS
  ) {
    throw new BadUserInputError(
      `leaseSeconds must be an integer from ${MIN_LEASE_SECONDS} to ${MAX_LEASE_SECONDS}; got ${leaseSeconds}.`,
    );
  }
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
