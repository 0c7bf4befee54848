import type { MigrationInterface, QueryRunner } from 'typeorm';

export class TaskHeartbeatRoundQueryRank1796145093796 implements MigrationInterface {
  name = 'TaskHeartbeatRoundQueryRank1796145093796';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "task" ADD "heartbeat_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(
      `CREATE INDEX "ix_label_query_round_rank" ON "label_query"  ("round_id", "rank") `,
    );
    // Rate-limit counters of rate-limiter-flexible's PostgreSQL store (src/http/rate-limit.ts),
    // shared by every server process; not an entity. UNLOGGED: counters need no crash safety.
    await queryRunner.query(
      `CREATE UNLOGGED TABLE "quarry_rate_limit" ("key" varchar(255) PRIMARY KEY, "points" integer NOT NULL DEFAULT 0, "expire" bigint)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "quarry_rate_limit"`);
    await queryRunner.query(`DROP INDEX "public"."ix_label_query_round_rank"`);
    await queryRunner.query(`ALTER TABLE "task" DROP COLUMN "heartbeat_at"`);
  }
}
