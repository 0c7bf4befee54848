import { Column, Entity, Index } from 'typeorm';
import { UuidIdColumn, CreatedAtColumn, TimeColumn } from './columns';
import { ApiKeyRole } from './enums';

/** An API key. Only the SHA-256 of the secret is stored; the key is shown once, at creation. */
@Entity({ name: 'api_key' })
@Index('ix_api_key_created', ['createdAt', 'id'])
export class ApiKey {
  @UuidIdColumn()
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'enum', enum: ApiKeyRole, enumName: 'api_key_role' })
  role: ApiKeyRole;

  /** Datasets the key may act on; null means all of them. */
  @Column({ name: 'dataset_ids', type: 'uuid', array: true, nullable: true })
  datasetIds: string[] | null;

  /** The key's first characters, to tell keys apart in listings. */
  @Column({ type: 'varchar', length: 16 })
  prefix: string;

  @Column({ name: 'secret_hash', type: 'char', length: 64, unique: true })
  secretHash: string;

  @CreatedAtColumn()
  createdAt: Date;

  @TimeColumn('revoked_at')
  revokedAt: Date | null;
}
