/** What the readiness probe asks the database. */
import { sql, type SqlStatement } from './statement';

/** Answers at once when the database does. */
export function ping(): SqlStatement {
  return sql('SELECT 1');
}

/** The migrations applied, by class name (TypeORM's `migrations` table). */
export function appliedMigrations(): SqlStatement {
  return sql('SELECT name FROM migrations');
}
