import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CalibrationStoppingValidationDraws1796145018323 implements MigrationInterface {
  name = 'CalibrationStoppingValidationDraws1796145018323';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "model" ADD "temperature" double precision NOT NULL DEFAULT '1'`,
    );
    await queryRunner.query(`ALTER TABLE "model" ADD "stopping" jsonb`);
    await queryRunner.query(`ALTER TYPE "public"."query_mechanism" ADD VALUE 'VALIDATION'`);
    await queryRunner.query(`ALTER TYPE "public"."stream_decision_kind" ADD VALUE 'SKIPPED'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TYPE "public"."stream_decision_kind_old" AS ENUM('QUERIED', 'AUTO_LABELED', 'DEFERRED')`,
    );
    await queryRunner.query(
      `ALTER TABLE "stream_decision" ALTER COLUMN "decision" TYPE "public"."stream_decision_kind_old" USING "decision"::"text"::"public"."stream_decision_kind_old"`,
    );
    await queryRunner.query(`DROP TYPE "public"."stream_decision_kind"`);
    await queryRunner.query(
      `ALTER TYPE "public"."stream_decision_kind_old" RENAME TO "stream_decision_kind"`,
    );
    await queryRunner.query(
      `CREATE TYPE "public"."query_mechanism_old" AS ENUM('POOL_ROUND', 'STREAM', 'AUDIT', 'SYNTHESIS')`,
    );
    await queryRunner.query(
      `ALTER TABLE "round" ALTER COLUMN "mechanism" TYPE "public"."query_mechanism_old" USING "mechanism"::"text"::"public"."query_mechanism_old"`,
    );
    await queryRunner.query(`DROP TYPE "public"."query_mechanism"`);
    await queryRunner.query(
      `ALTER TYPE "public"."query_mechanism_old" RENAME TO "query_mechanism"`,
    );
    await queryRunner.query(`ALTER TABLE "model" DROP COLUMN "stopping"`);
    await queryRunner.query(`ALTER TABLE "model" DROP COLUMN "temperature"`);
  }
}
