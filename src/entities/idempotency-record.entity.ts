import { Column, Entity, PrimaryColumn } from 'typeorm';
import { CreatedAtColumn } from './columns';

/**
 * The stored outcome of a mutation sent with an idempotency key, so that a retry gets the same
 * answer instead of writing twice.
 */
@Entity({ name: 'idempotency_record' })
export class IdempotencyRecord {
  /** `<scope>:<caller's key>`; the scope keeps operations and datasets apart. */
  @PrimaryColumn({ type: 'varchar', length: 300 })
  key: string;

  /** SHA-256 of the request, so that the same key with another request is refused. */
  @Column({ name: 'request_hash', type: 'char', length: 64 })
  requestHash: string;

  @Column({ type: 'jsonb' })
  response: unknown;

  @CreatedAtColumn()
  createdAt: Date;
}
