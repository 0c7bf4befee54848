/**
 * Statements of streams: the stream row (its policy, state and lock), the items a call brings,
 * their predictions and the decisions stored for them. Called by the stream service.
 */
import { sql, type SqlStatement } from './statement';
import { Conditions, type Listing } from './pages.sql';

const STREAM_COLUMNS = `id, dataset_id AS "datasetId", name, policy, params, state, round_id AS "roundId",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

/** The columns of a stored decision, as the service reads them (also for keyset pages). */
export const DECISION_COLUMNS = `id, dataset_id AS "datasetId", stream_id AS "streamId", item_id AS "itemId",
  model_id AS "modelId", decision, score, threshold, predicted_class AS "predictedClass",
  query_id AS "queryId", label_id AS "labelId", created_at AS "createdAt"`;

/** Makes the stream on first use; a racing first call finds the other's row (nothing happens). */
export function insertStream(s: {
  id: string;
  datasetId: string;
  name: string;
  policy: string;
  params: string;
  state: string;
}): SqlStatement {
  return sql(
    `INSERT INTO stream (id, dataset_id, name, policy, params, state) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (dataset_id, name) DO NOTHING`,
    [s.id, s.datasetId, s.name, s.policy, s.params, s.state],
  );
}

/**
 * A dataset's stream by name; with `lock`, its row locked until the transaction ends: the lock
 * that keeps a stream's decisions in arrival order.
 */
export function findStream(datasetId: string, name: string, lock: boolean): SqlStatement {
  return sql(
    `SELECT ${STREAM_COLUMNS} FROM stream WHERE dataset_id = $1 AND name = $2${lock ? ' FOR UPDATE' : ''}`,
    [datasetId, name],
  );
}

/** Stores the stream's state after a call, and the batch its queries went to (if any). */
export function saveStreamState(streamId: string, state: string, roundId: string | null) {
  return sql(
    `UPDATE stream SET state = $2, round_id = coalesce($3, round_id), updated_at = now() WHERE id = $1`,
    [streamId, state, roundId],
  );
}

/** The call's items, POOL and unlabelled, in input order; returns their ids in that order. */
export function insertStreamedItems(
  datasetId: string,
  items: { externalIds: string[]; payloads: string[]; features: Buffer[]; truth: unknown },
): SqlStatement {
  return sql(
    `INSERT INTO item (dataset_id, external_id, payload, features, split, origin, ground_truth)
     SELECT $1, t.e, t.p, t.f, 'POOL', 'IMPORTED', t.g
     FROM unnest($2::text[], $3::jsonb[], $4::bytea[], $5::smallint[]) WITH ORDINALITY AS t(e, p, f, g, n)
     ORDER BY t.n
     RETURNING id`,
    [datasetId, items.externalIds, items.payloads, items.features, items.truth],
  );
}

/** The model's prediction of each item (a query's pre-label shows it); a stored one stays. */
export function insertPredictions(
  modelId: string,
  itemIds: readonly string[],
  predictedClass: number[],
  confidence: number[],
): SqlStatement {
  return sql(
    `INSERT INTO prediction (item_id, model_id, predicted_class, confidence)
     SELECT t.i, $1, t.c, t.p FROM unnest($2::bigint[], $3::smallint[], $4::real[]) AS t(i, c, p)
     ON CONFLICT (item_id, model_id) DO NOTHING`,
    [modelId, itemIds, predictedClass, confidence],
  );
}

/** One decision per item, in input order; returns them in that order. */
export function insertDecisions(
  datasetId: string,
  streamId: string,
  modelId: string,
  d: {
    itemIds: string[];
    kinds: string[];
    scores: number[];
    thresholds: number[];
    predictedClass: number[];
    queryIds: (string | null)[];
    labelIds: (string | null)[];
  },
): SqlStatement {
  return sql(
    `INSERT INTO stream_decision (dataset_id, stream_id, item_id, model_id, decision, score, threshold,
       predicted_class, query_id, label_id)
     SELECT $1, $2, t.i, $3, t.d::stream_decision_kind, t.s, t.th, t.c, t.q, t.l
     FROM unnest($4::bigint[], $5::text[], $6::real[], $7::real[], $8::smallint[], $9::bigint[], $10::bigint[])
       WITH ORDINALITY AS t(i, d, s, th, c, q, l, n)
     ORDER BY t.n
     RETURNING ${DECISION_COLUMNS}`,
    [
      datasetId,
      streamId,
      modelId,
      d.itemIds,
      d.kinds,
      d.scores,
      d.thresholds,
      d.predictedClass,
      d.queryIds,
      d.labelIds,
    ],
  );
}

/** A dataset's streams, by name (uq_stream_name). */
export function streamListing(datasetId: string): Listing {
  return {
    table: 'stream',
    columns: STREAM_COLUMNS,
    where: new Conditions().add((p) => `dataset_id = ${p}::uuid`, datasetId),
    sortBy: { column: 'name', type: 'text' },
    idType: 'uuid',
  };
}
