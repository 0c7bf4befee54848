import { ApiKey, ApiKeyRole } from '../entities';
import { ForbiddenError, NotFoundError } from '../errors';

/** What an operation needs. Roles grant sets of these (see {@link ROLE_PERMISSIONS}). */
export enum Permission {
  /** See a dataset and its items. */
  READ_DATASET = 'READ_DATASET',
  /** Create datasets (needs a key not scoped to datasets). */
  CREATE_DATASET = 'CREATE_DATASET',
  /** Change a dataset's settings, import items. */
  WRITE_DATASET = 'WRITE_DATASET',
  /** Read labels (an item's label and history, listings, export); annotators may not, so their answers stay independent. */
  READ_LABELS = 'READ_LABELS',
  /** Write labels in bulk (`labelItems`). */
  WRITE_LABELS = 'WRITE_LABELS',
  /** List, download and register models. */
  MANAGE_MODELS = 'MANAGE_MODELS',
  /** Start and cancel rounds. */
  MANAGE_ROUNDS = 'MANAGE_ROUNDS',
  /** Work label queues: claim, renew, release, skip, submit. */
  ANNOTATE = 'ANNOTATE',
  /** Create, list and revoke API keys. */
  MANAGE_KEYS = 'MANAGE_KEYS',
}

const ALL = new Set(Object.values(Permission));

export const ROLE_PERMISSIONS: Record<ApiKeyRole, ReadonlySet<Permission>> = {
  [ApiKeyRole.ADMIN]: ALL,
  [ApiKeyRole.SERVICE]: new Set([...ALL].filter((p) => p !== Permission.MANAGE_KEYS)),
  [ApiKeyRole.ANNOTATOR]: new Set([Permission.READ_DATASET, Permission.ANNOTATE]),
};

/** The datasets a key may see: null means all. */
export function datasetScope(key: ApiKey): ReadonlySet<string> | null {
  return key.datasetIds ? new Set(key.datasetIds) : null;
}

/** Dataset ids are uuids, which PostgreSQL reads in either case: so must the scope check. */
export function inScope(datasetIds: readonly string[], datasetId: string): boolean {
  const id = datasetId.toLowerCase();
  return datasetIds.some((d) => d.toLowerCase() === id);
}

/**
 * Throws FORBIDDEN unless the key's role grants `permission`, and NOT_FOUND when a dataset is
 * named that is outside the key's scope (exactly as for a dataset that does not exist). Called
 * before anything is read or written.
 */
export function authorize(key: ApiKey, permission: Permission, datasetId?: string): void {
  if (!ROLE_PERMISSIONS[key.role].has(permission)) {
    throw new ForbiddenError(
      `This ${key.role} key may not do this (it needs the ${permission} permission).`,
    );
  }
  if (permission === Permission.CREATE_DATASET && key.datasetIds && key.role !== ApiKeyRole.ADMIN) {
    throw new ForbiddenError('A key scoped to datasets may not create datasets.');
  }
  // Outside the key's scope a dataset looks missing: the same NOT_FOUND, word for word, as an
  // id that names no dataset, so a scoped key cannot tell which other datasets exist.
  if (datasetId !== undefined && key.datasetIds && !inScope(key.datasetIds, datasetId)) {
    throw new NotFoundError('Dataset', datasetId);
  }
}

/**
 * For a row found by id (a round, a query, a task) of dataset `datasetId`: FORBIDDEN unless the
 * key's role grants `permission`; NOT_FOUND when the dataset is outside the key's scope, so that
 * ids of other datasets' rows look like missing ones (nothing about them leaks).
 */
export function authorizeRow(
  key: ApiKey,
  permission: Permission,
  datasetId: string,
  entity: string,
  id: string,
): void {
  authorize(key, permission);
  if (key.datasetIds && !inScope(key.datasetIds, datasetId)) throw new NotFoundError(entity, id);
}
