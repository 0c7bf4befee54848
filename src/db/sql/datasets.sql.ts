/** Datasets. */

import { sql, type SqlStatement } from './statement';
import { Conditions, type Listing } from './pages.sql';

/**
 * Locks a dataset row until the transaction ends: what serialises the changes of one dataset
 * (its settings, its model version numbers) without blocking other datasets.
 */
export function lockDataset(datasetId: string): SqlStatement {
  return sql('SELECT 1 FROM dataset WHERE id = $1 FOR UPDATE', [datasetId]);
}

/** Which of `ids` name datasets (`id`). */
export function existingDatasetIds(ids: string[]): SqlStatement {
  return sql('SELECT id FROM dataset WHERE id = ANY($1::uuid[])', [ids]);
}

/** A dataset's class names, in index order. */
export function datasetClasses(datasetId: string): SqlStatement {
  return sql('SELECT classes FROM dataset WHERE id = $1', [datasetId]);
}

/**
 * Which database this is (`id`): its cluster's system identifier, database and schema. Feature
 * cache directories are marked with it, so that a sweep never removes the files of another
 * database's datasets sharing the same directory (the default is one per machine).
 */
export function databaseIdentity(): SqlStatement {
  return sql(
    `SELECT system_identifier::text || ':' || current_database() || ':' || current_schema() AS id FROM pg_control_system()`,
  );
}

/** The datasets a key may see (`ids`; every one when null), by name (unique: uq on name). */
export function datasetListing(ids: readonly string[] | null): Listing {
  const where = new Conditions();
  if (ids) where.add((p) => `id = ANY(${p}::uuid[])`, ids);
  return {
    table: 'dataset',
    columns: 'id',
    where,
    sortBy: { column: 'name', type: 'text' },
    idType: 'uuid',
  };
}
