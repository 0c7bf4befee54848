/**
 * The column conventions of Quarry's tables, each spelled once: snake_case names, `timestamptz`
 * times, bigint identities for high-volume rows and uuids for the rest, and child rows deleted
 * with their parent. Entities use these decorators instead of repeating the options.
 */
import {
  Column,
  CreateDateColumn,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  type ObjectType,
} from 'typeorm';

/** A bigint identity key (items, labels, queries: rows that grow with the data). */
export const BigintIdColumn = (): PropertyDecorator =>
  PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' });

/** A uuid key (datasets, models, rounds, tasks: rows named in URLs and logs). */
export const UuidIdColumn = (): PropertyDecorator => PrimaryGeneratedColumn('uuid');

/** `created_at`, set by the database on insert. */
export const CreatedAtColumn = (): PropertyDecorator =>
  CreateDateColumn({ name: 'created_at', type: 'timestamptz' });

/** `updated_at`, set by TypeORM on every save. */
export const UpdatedAtColumn = (): PropertyDecorator =>
  UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' });

/** A nullable point in time, e.g. `finished_at`. */
export const TimeColumn = (name: string): PropertyDecorator =>
  Column({ name, type: 'timestamptz', nullable: true });

/** A reference to a uuid-keyed row, e.g. `dataset_id`. */
export const UuidRefColumn = (name: string, nullable = false): PropertyDecorator =>
  Column({ name, type: 'uuid', nullable });

/** A reference to a bigint-keyed row, e.g. `item_id`. */
export const BigintRefColumn = (name: string, nullable = false): PropertyDecorator =>
  Column({ name, type: 'bigint', nullable });

/** The person who gave an answer or a label, as the labelling tool names them. */
export const AnnotatorColumn = (nullable: boolean): PropertyDecorator =>
  Column({ name: 'annotator_id', type: 'varchar', length: 200, nullable });

/**
 * The parent row of a child that is deleted with it (`ON DELETE CASCADE`), joined on
 * `joinColumn`.
 */
export function ParentRelation<T>(
  target: () => ObjectType<T>,
  joinColumn: string,
): PropertyDecorator {
  return (prototype, property) => {
    ManyToOne(target, { onDelete: 'CASCADE' })(prototype, property);
    JoinColumn({ name: joinColumn })(prototype, property);
  };
}
