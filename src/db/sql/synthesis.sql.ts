/**
 * Statements of synthesis: the synthetic items it writes and the source vectors it reads.
 * Called by the synthesis service.
 */
import { sql, type SqlStatement } from './statement';

/** The columns of an item as a synthesis answers it. */
const SYNTHETIC_ITEM_COLUMNS = `id, dataset_id AS "datasetId", external_id AS "externalId", payload, features,
  split, origin, parents, synthesis, created_at AS "createdAt"`;

/** Synthetic POOL items with their parents and synthesis record; returns them (any order). */
export function insertSyntheticItems(
  datasetId: string,
  items: {
    externalIds: string[];
    payloads: string[];
    features: Buffer[];
    /** Each item's parents as a bigint array literal, `{1,2}`. */
    parents: string[];
    syntheses: string[];
  },
): SqlStatement {
  return sql(
    `INSERT INTO item (dataset_id, external_id, payload, features, split, origin, parents, synthesis)
     SELECT $1, t.e, t.p, t.f, 'POOL', 'SYNTHETIC', t.a::bigint[], t.s
     FROM unnest($2::text[], $3::jsonb[], $4::bytea[], $5::text[], $6::jsonb[])
          WITH ORDINALITY AS t(e, p, f, a, s, n)
     ORDER BY t.n
     RETURNING ${SYNTHETIC_ITEM_COLUMNS}`,
    [datasetId, items.externalIds, items.payloads, items.features, items.parents, items.syntheses],
  );
}

/** The external ids and stored vectors of items by id (any order). */
export function itemVectors(itemIds: readonly string[]): SqlStatement {
  return sql(
    `SELECT id, external_id AS "externalId", features FROM item WHERE id = ANY($1::bigint[])`,
    [itemIds],
  );
}
