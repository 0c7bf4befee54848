import type { MigrationInterface, QueryRunner } from 'typeorm';

export class TrainersSimulation1795301123921 implements MigrationInterface {
  name = 'TrainersSimulation1795301123921';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TYPE "public"."task_kind" AS ENUM('TRAIN', 'SIMULATE')`);
    await queryRunner.query(
      `CREATE TYPE "public"."task_status" AS ENUM('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')`,
    );
    await queryRunner.query(
      `CREATE TABLE "task" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "dataset_id" uuid NOT NULL, "kind" "public"."task_kind" NOT NULL, "status" "public"."task_status" NOT NULL DEFAULT 'QUEUED', "params" jsonb NOT NULL, "progress_done" integer NOT NULL DEFAULT '0', "progress_total" integer, "result" jsonb, "model_id" uuid, "error" text, "attempts" integer NOT NULL DEFAULT '0', "created_by" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "started_at" TIMESTAMP WITH TIME ZONE, "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_fb213f79ee45060ba925ecd576e" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_task_dataset" ON "task"  ("dataset_id", "kind", "created_at") `,
    );
    await queryRunner.query(`ALTER TABLE "item" ADD "ground_truth" smallint`);
    await queryRunner.query(`ALTER TABLE "model" ADD "metrics" jsonb`);
    await queryRunner.query(`ALTER TABLE "model" ADD "human_labels" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "model" ADD "training" jsonb`);
    await queryRunner.query(
      `ALTER TABLE "task" ADD CONSTRAINT "FK_eacddc71182cffcd062998688a0" FOREIGN KEY ("dataset_id") REFERENCES "dataset"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "task" DROP CONSTRAINT "FK_eacddc71182cffcd062998688a0"`);
    await queryRunner.query(`ALTER TABLE "model" DROP COLUMN "training"`);
    await queryRunner.query(`ALTER TABLE "model" DROP COLUMN "human_labels"`);
    await queryRunner.query(`ALTER TABLE "model" DROP COLUMN "metrics"`);
    await queryRunner.query(`ALTER TABLE "item" DROP COLUMN "ground_truth"`);
    await queryRunner.query(`DROP INDEX "public"."ix_task_dataset"`);
    await queryRunner.query(`DROP TABLE "task"`);
    await queryRunner.query(`DROP TYPE "public"."task_status"`);
    await queryRunner.query(`DROP TYPE "public"."task_kind"`);
  }
}
