import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AutoLabelStreamSynthesis1795302469268 implements MigrationInterface {
  name = 'AutoLabelStreamSynthesis1795302469268';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "stream" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "dataset_id" uuid NOT NULL, "name" character varying(200) NOT NULL, "policy" character varying(100) NOT NULL, "params" jsonb NOT NULL, "state" jsonb NOT NULL, "round_id" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_0dc9d7e04ff213c08a096f835f2" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_stream_name" ON "stream"  ("dataset_id", "name") `,
    );
    await queryRunner.query(
      `CREATE TYPE "public"."stream_decision_kind" AS ENUM('QUERIED', 'AUTO_LABELED', 'DEFERRED')`,
    );
    await queryRunner.query(
      `CREATE TABLE "stream_decision" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "dataset_id" uuid NOT NULL, "stream_id" uuid NOT NULL, "item_id" bigint NOT NULL, "model_id" uuid NOT NULL, "decision" "public"."stream_decision_kind" NOT NULL, "score" real NOT NULL, "threshold" real NOT NULL, "predicted_class" smallint NOT NULL, "query_id" bigint, "label_id" bigint, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_82cff8d37c7ae7af3ffa96dad68" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_stream_decision_stream" ON "stream_decision"  ("stream_id", "id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_stream_decision_dataset" ON "stream_decision"  ("dataset_id", "id") `,
    );
    await queryRunner.query(`ALTER TABLE "item" ADD "parents" bigint array`);
    await queryRunner.query(`ALTER TABLE "item" ADD "synthesis" jsonb`);
    await queryRunner.query(`ALTER TABLE "label" ADD "run_id" uuid`);
    await queryRunner.query(
      `CREATE TYPE "public"."query_mechanism" AS ENUM('POOL_ROUND', 'STREAM', 'AUDIT', 'SYNTHESIS')`,
    );
    await queryRunner.query(
      `ALTER TABLE "round" ADD "mechanism" "public"."query_mechanism" NOT NULL DEFAULT 'POOL_ROUND'`,
    );
    await queryRunner.query(`DROP INDEX "public"."ix_task_dataset"`);
    await queryRunner.query(`ALTER TYPE "public"."task_kind" ADD VALUE 'AUTO_LABEL'`);
    await queryRunner.query(
      `CREATE INDEX "ix_label_run" ON "label"  ("run_id") WHERE run_id IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_task_dataset" ON "task"  ("dataset_id", "kind", "created_at") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_task_dataset"`);
    await queryRunner.query(`DROP INDEX "public"."ix_label_run"`);
    await queryRunner.query(`CREATE TYPE "public"."task_kind_old" AS ENUM('TRAIN', 'SIMULATE')`);
    await queryRunner.query(
      `ALTER TABLE "task" ALTER COLUMN "kind" TYPE "public"."task_kind_old" USING "kind"::"text"::"public"."task_kind_old"`,
    );
    await queryRunner.query(`DROP TYPE "public"."task_kind"`);
    await queryRunner.query(`ALTER TYPE "public"."task_kind_old" RENAME TO "task_kind"`);
    await queryRunner.query(
      `CREATE INDEX "ix_task_dataset" ON "task" USING btree ("created_at", "dataset_id", "kind") `,
    );
    await queryRunner.query(`ALTER TABLE "round" DROP COLUMN "mechanism"`);
    await queryRunner.query(`DROP TYPE "public"."query_mechanism"`);
    await queryRunner.query(`ALTER TABLE "label" DROP COLUMN "run_id"`);
    await queryRunner.query(`ALTER TABLE "item" DROP COLUMN "synthesis"`);
    await queryRunner.query(`ALTER TABLE "item" DROP COLUMN "parents"`);
    await queryRunner.query(`DROP INDEX "public"."ix_stream_decision_dataset"`);
    await queryRunner.query(`DROP INDEX "public"."ix_stream_decision_stream"`);
    await queryRunner.query(`DROP TABLE "stream_decision"`);
    await queryRunner.query(`DROP TYPE "public"."stream_decision_kind"`);
    await queryRunner.query(`DROP INDEX "public"."uq_stream_name"`);
    await queryRunner.query(`DROP TABLE "stream"`);
  }
}
