import type { DataSource } from 'typeorm';
import { ApiKey, ApiKeyRole } from '../entities';
import { BadUserInputError, NotFoundError, UnauthenticatedError } from '../errors';
import { generateApiKey, hashApiKey } from '../http/keys';
import { isUuid } from '../db/db-errors';
import {
  apiKeyListing,
  countApiKeys,
  lockApiKeysAgainstInserts,
  revokedAmong,
} from '../db/sql/api-keys.sql';
import { entityPage, type Page } from './pagination';
import type { EventBus } from './event-bus';
import { existingDatasetIds } from '../db/sql/datasets.sql';
import { run } from '../db/sql/statement';
import { requireLength } from './validate';

export interface CreateApiKeyInput {
  name: string;
  role: ApiKeyRole;
  /** Datasets the key is limited to; omitted or null for all. */
  datasetIds?: string[] | null;
}

/** Creates, checks and revokes API keys. */
/** How long a key found valid is trusted without a new lookup. */
export const AUTH_CACHE_MS = 5000;
const AUTH_CACHE_MAX = 10_000;

export class ApiKeyService {
  /**
   * Keys recently found valid, by secret hash, so that a tool sending many requests costs one
   * lookup every {@link AUTH_CACHE_MS} rather than one per request. A revoked key leaves the
   * cache of every process as its revocation's NOTIFY arrives (the revoking process's at once);
   * should that notification be lost (the listener reconnecting), within AUTH_CACHE_MS.
   */
  private readonly recent = new Map<string, { key: ApiKey; until: number }>();

  constructor(
    private readonly ds: DataSource,
    /** Tells every process of a revocation, so that the key's subscriptions end. */
    private readonly events?: EventBus,
  ) {
    events?.onKeyRevoked((keyId) => this.forget(keyId));
  }

  /** Drops the key `keyId` from the cache of recently valid keys. */
  private forget(keyId: string): void {
    for (const [hash, cached] of this.recent) {
      if (cached.key.id === keyId) this.recent.delete(hash);
    }
  }

  /** Creates a key; the returned secret is the only time it is ever shown. */
  async create(input: CreateApiKeyInput): Promise<{ key: ApiKey; secret: string }> {
    const name = requireLength(input.name.trim(), 'name');
    if (!Object.values(ApiKeyRole).includes(input.role)) {
      throw new BadUserInputError(
        `role must be one of ${Object.values(ApiKeyRole).join(', ')}; got ${JSON.stringify(input.role)}.`,
      );
    }
    if (input.role === ApiKeyRole.ADMIN && input.datasetIds) {
      throw new BadUserInputError(
        'An ADMIN key cannot be scoped to datasets (it can create unscoped keys anyway); use a SERVICE or ANNOTATOR key.',
      );
    }
    let datasetIds: string[] | null = null;
    if (input.datasetIds) {
      datasetIds = [...new Set(input.datasetIds)];
      const bad = datasetIds.filter((id) => !isUuid(id));
      const found = await run<{ id: string }>(
        this.ds,
        existingDatasetIds(datasetIds.filter(isUuid)),
      );
      const known = new Set(found.map((d) => d.id));
      const missing = [...bad, ...datasetIds.filter((id) => isUuid(id) && !known.has(id))];
      if (missing.length > 0) {
        throw new BadUserInputError(
          `datasetIds names datasets that do not exist: ${missing.join(', ')}.`,
        );
      }
    }
    const { secret, prefix, secretHash } = generateApiKey();
    const key = await this.ds.getRepository(ApiKey).save({
      name,
      role: input.role,
      datasetIds,
      prefix,
      secretHash,
      revokedAt: null,
    });
    return { key, secret };
  }

  /**
   * The key behind a secret when it was found valid within {@link AUTH_CACHE_MS} (no lookup), else
   * undefined: the edge checks an address's failed authentications only for other secrets.
   */
  recentlyValid(secret: string | undefined): ApiKey | undefined {
    if (!secret) return undefined;
    const cached = this.recent.get(hashApiKey(secret));
    return cached && cached.until > Date.now() ? cached.key : undefined;
  }

  /** The live key behind a secret, or UNAUTHENTICATED. */
  async authenticate(secret: string | undefined): Promise<ApiKey> {
    if (!secret) throw new UnauthenticatedError();
    const hash = hashApiKey(secret);
    const now = Date.now();
    const cached = this.recent.get(hash);
    if (cached && cached.until > now) return cached.key;
    const key = await this.ds.getRepository(ApiKey).findOneBy({ secretHash: hash });
    if (!key || key.revokedAt) {
      this.recent.delete(hash);
      throw new UnauthenticatedError('The API key is not valid (unknown or revoked).');
    }
    if (this.recent.size >= AUTH_CACHE_MAX) this.recent.clear();
    this.recent.set(hash, { key, until: now + AUTH_CACHE_MS });
    return key;
  }

  /** Of these key ids, those no longer valid (revoked or deleted). */
  async revokedAmong(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await run<{ id: string }>(this.ds, revokedAmong(ids));
    return rows.map((r) => r.id);
  }

  /** A page of every API key, oldest first. */
  list(first?: number | null, after?: string | null): Promise<Page<ApiKey>> {
    return entityPage(this.ds, ApiKey, { ...apiKeyListing(), kind: 'apiKey', first, after });
  }

  async revoke(id: string): Promise<ApiKey> {
    const repo = this.ds.getRepository(ApiKey);
    const key = isUuid(id) ? await repo.findOneBy({ id }) : null;
    if (!key) throw new NotFoundError('API key', id);
    if (!key.revokedAt) {
      key.revokedAt = new Date();
      await this.ds.transaction(async (m) => {
        await m.getRepository(ApiKey).save(key);
        await this.events?.publishKeyRevoked(m, key.id);
      });
    }
    this.recent.delete(key.secretHash);
    return key;
  }

  /**
   * On a database with no keys at all, creates the first ADMIN key and returns its secret;
   * otherwise returns null. Safe when several processes start at once: the table is locked.
   */
  async bootstrapAdminKey(): Promise<string | null> {
    return this.ds.transaction(async (m) => {
      await run(m, lockApiKeysAgainstInserts());
      const [{ n }] = await run<{ n: number }>(m, countApiKeys());
      if (n > 0) return null;
      const { secret, prefix, secretHash } = generateApiKey();
      await m.getRepository(ApiKey).save({
        name: 'initial admin',
        role: ApiKeyRole.ADMIN,
        datasetIds: null,
        prefix,
        secretHash,
        revokedAt: null,
      });
      return secret;
    });
  }
}
