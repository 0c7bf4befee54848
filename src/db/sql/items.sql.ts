/**
 * Items: bulk import, listings, lookups by id and external id, and the item sets tasks load.
 * `item_id` is an identity, so "after id N, ORDER BY id" pages walk the primary key.
 */

import { hasCurrentLabel } from './conditions';
import { Conditions, type Listing } from './pages.sql';
import { sql, type SqlStatement } from './statement';

/** The columns an item listing returns; features are loaded separately, on request. */
const ITEM_COLUMNS = `id, dataset_id AS "datasetId", external_id AS "externalId", payload, split, origin, parents, synthesis, created_at AS "createdAt"`;

/** Which of `externalIds` the dataset already has (`external_id`). */
export function takenExternalIds(datasetId: string, externalIds: string[]): SqlStatement {
  return sql(
    'SELECT external_id FROM item WHERE dataset_id = $1 AND external_id = ANY($2::text[])',
    [datasetId, externalIds],
  );
}

/**
 * Imports items from parallel arrays in one statement, returning `id, external_id`. A concurrent
 * import of the same external ids fails on the unique (dataset_id, external_id) index.
 */
export function insertImportedItems(
  datasetId: string,
  items: {
    externalIds: string[];
    payloads: string[];
    features: Buffer[];
    splits: string[];
    groundTruths: (number | null)[];
  },
): SqlStatement {
  return sql(
    `INSERT INTO item (dataset_id, external_id, payload, features, split, origin, ground_truth)
           SELECT $1, t.e, t.p, t.f, t.s::item_split, 'IMPORTED', t.g
           FROM unnest($2::text[], $3::jsonb[], $4::bytea[], $5::text[], $6::smallint[]) AS t(e, p, f, s, g)
           RETURNING id, external_id`,
    [
      datasetId,
      items.externalIds,
      items.payloads,
      items.features,
      items.splits,
      items.groundTruths,
    ],
  );
}

/** A dataset's items in id (import) order, filtered. */
export function itemListing(
  datasetId: string,
  filter: {
    split?: string | null;
    origin?: string | null;
    externalIds?: string[] | null;
    labelled?: boolean | null;
  },
): Listing {
  const where = new Conditions().add((p) => `dataset_id = ${p}`, datasetId);
  if (filter.split) where.add((p) => `split = ${p}::item_split`, filter.split);
  if (filter.origin) where.add((p) => `origin = ${p}::item_origin`, filter.origin);
  if (filter.externalIds) where.add((p) => `external_id = ANY(${p}::text[])`, filter.externalIds);
  if (filter.labelled !== undefined && filter.labelled !== null) {
    where.raw(`${filter.labelled ? '' : 'NOT '}${hasCurrentLabel('item.id')}`);
  }
  return { table: 'item', columns: ITEM_COLUMNS, where };
}

export function itemById(id: string): SqlStatement {
  return sql(`SELECT ${ITEM_COLUMNS} FROM item WHERE id = $1`, [id]);
}

export function itemsByIds(ids: readonly string[]): SqlStatement {
  return sql(`SELECT ${ITEM_COLUMNS} FROM item WHERE id = ANY($1::bigint[])`, [ids]);
}

/** The stored feature bytes of items (`id`, `features`). */
export function featuresByIds(ids: readonly string[]): SqlStatement {
  return sql('SELECT id, features FROM item WHERE id = ANY($1::bigint[])', [ids]);
}

/** The dataset's items among `ids` or `externalIds` (`id`, `external_id`). */
export function itemsByIdOrExternalId(
  datasetId: string,
  ids: string[],
  externalIds: string[],
): SqlStatement {
  return sql(
    `SELECT id, external_id FROM item WHERE dataset_id = $1 AND (id = ANY($2::bigint[]) OR external_id = ANY($3::text[]))`,
    [datasetId, ids, externalIds],
  );
}

/**
 * The features of up to `limit` of the dataset's items drawn at random, to try a model on: a
 * model that gives NaN for some inputs is more likely to meet one of them than in the first few.
 */
export function sampleFeatures(datasetId: string, limit: number): SqlStatement {
  // The draw reads ids only (ix on dataset_id); the vectors of the drawn rows alone are fetched.
  return sql(
    `SELECT features FROM item
     WHERE id IN (SELECT id FROM item WHERE dataset_id = $1 ORDER BY random() LIMIT $2)`,
    [datasetId, limit],
  );
}

/** How many items a dataset has (`n`), labelled or not. */
export function datasetItemCount(datasetId: string): SqlStatement {
  return sql('SELECT count(*)::int AS n FROM item WHERE dataset_id = $1', [datasetId]);
}

/**
 * A page of the features of the items of a dataset, labelled or not, in id order: every
 * `stride`-th id (all of them for stride 1). What the dataset-wide standardisation of the
 * built-in trainers is computed from.
 */
export function datasetFeaturesPage(
  datasetId: string,
  afterId: string,
  limit: number,
  stride: number,
): SqlStatement {
  return sql(
    `SELECT id, features FROM item
           WHERE dataset_id = $1 AND id > $2::bigint AND id % $4::bigint = 0
           ORDER BY id LIMIT $3`,
    [datasetId, afterId, limit, stride],
  );
}

/** How many imported POOL and TEST items of a dataset carry ground truth (`pool`, `test`). */
export function groundTruthCounts(datasetId: string): SqlStatement {
  return sql(
    `SELECT count(*) FILTER (WHERE split = 'POOL')::int AS pool,
              count(*) FILTER (WHERE split = 'TEST')::int AS test
       FROM item WHERE dataset_id = $1 AND ground_truth IS NOT NULL AND origin = 'IMPORTED'`,
    [datasetId],
  );
}

/**
 * Up to `limit` imported POOL and TEST items with ground truth after item `afterId` (`id`,
 * `features`, ground truth `g`, `split`): a page of what a simulation loads.
 */
export function simulationItemsPage(
  datasetId: string,
  afterId: string,
  limit: number,
): SqlStatement {
  return sql(
    `SELECT id, features, ground_truth AS g, split FROM item
           WHERE dataset_id = $1 AND origin = 'IMPORTED' AND id > $2::bigint
             AND ground_truth IS NOT NULL AND split IN ('POOL', 'TEST')
           ORDER BY id LIMIT $3`,
    [datasetId, afterId, limit],
  );
}

/**
 * Wraps a trusted SELECT of `(id bigint, features bytea)` rows (built with `copyLiteral`: COPY
 * takes no parameters) in a binary COPY: several times faster than a SELECT of the `bytea` column
 * on PostgreSQL, about 30 times on PGlite. `'stdout'` streams it to a pg client; `'pglite-blob'`
 * has PGlite hand it back as one blob.
 */
export function copyFeaturesBinary(select: string, to: 'stdout' | 'pglite-blob'): string {
  return to === 'stdout'
    ? `COPY (${select}) TO STDOUT WITH (FORMAT binary)`
    : `COPY (${select}) TO '/dev/blob' WITH (FORMAT binary)`;
}

/**
 * A fixed pseudo-random choice of up to `limit` imported POOL items nobody has labelled (HUMAN
 * or IMPORT), ordered by a hash of their id: a dataset's stop set, drawn once.
 */
export function stopSetCandidates(datasetId: string, limit: number): SqlStatement {
  return sql(
    `SELECT i.id::text AS id FROM item i
     WHERE i.dataset_id = $1 AND i.split = 'POOL' AND i.origin = 'IMPORTED'
       AND NOT ${hasCurrentLabel('i.id', 'human-or-import')}
     ORDER BY md5(i.id::text), i.id LIMIT $2`,
    [datasetId, limit],
  );
}

/** The features of items, in the order of `itemIds` (text ids). */
export function featuresOfItems(itemIds: readonly string[]): SqlStatement {
  return sql(
    `SELECT i.features FROM unnest($1::bigint[]) WITH ORDINALITY AS t(id, k)
     JOIN item i ON i.id = t.id ORDER BY t.k`,
    [itemIds],
  );
}

/**
 * `n` new item ids from the identity's sequence, as one comma-separated text (`ids`), for rows
 * written by {@link COPY_IMPORTED_ITEMS} (COPY may set a GENERATED ALWAYS identity column).
 * Measured on 10,000 ids: `pg_get_serial_sequence` called per row and one result row per id
 * took 170-470 ms; the sequence named (the initial migration's `item_id_seq`) and one row,
 * 30-45 ms.
 */
export function allocateItemIds(n: number): SqlStatement {
  return sql(
    `SELECT string_agg(nextval('item_id_seq')::text, ',') AS ids FROM generate_series(1, $1::int)`,
    [n],
  );
}

/**
 * Imported items by binary COPY, in the row layout `src/db/item-copy.ts` encodes: on PostgreSQL
 * several times cheaper than the INSERT of unnest()ed arrays, whose text-encoded bytea and jsonb
 * parameters PostgreSQL has to parse (the `item` statement triggers fire for COPY too).
 */
export const COPY_IMPORTED_ITEMS =
  'COPY item (id, dataset_id, external_id, payload, features, split, origin, ground_truth) FROM STDIN (FORMAT binary)';
