import type { MigrationInterface, QueryRunner } from 'typeorm';

export class LabelQueues1795298973454 implements MigrationInterface {
  name = 'LabelQueues1795298973454';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "query_skip" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "query_id" bigint NOT NULL, "dataset_id" uuid NOT NULL, "api_key_id" uuid NOT NULL, "annotator_id" character varying(200) NOT NULL, "reason" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_9f3171be6b00da2b8f886b2d33c" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_query_skip_query" ON "query_skip"  ("query_id", "annotator_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "query_slot" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "query_id" bigint NOT NULL, "dataset_id" uuid NOT NULL, "slot" smallint NOT NULL, "claim_token" uuid, "api_key_id" uuid, "annotator_id" character varying(200), "claimed_at" TIMESTAMP WITH TIME ZONE, "lease_expires_at" TIMESTAMP WITH TIME ZONE, "class_index" smallint, "answered_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_94f3762db8161087dc2e94ecc16" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_query_slot_annotator" ON "query_slot"  ("query_id", "annotator_id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_query_slot_answered" ON "query_slot"  ("dataset_id", "annotator_id") WHERE answered_at IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_query_slot_open" ON "query_slot"  ("dataset_id", "query_id") WHERE answered_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_query_slot_token" ON "query_slot"  ("claim_token") WHERE claim_token IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_query_slot" ON "query_slot"  ("query_id", "slot") `,
    );
    await queryRunner.query(
      `ALTER TABLE "label_query" ADD "answers_needed" smallint NOT NULL DEFAULT '1'`,
    );
    await queryRunner.query(`ALTER TABLE "label_query" ADD "resolved_class" smallint`);
    await queryRunner.query(`DROP INDEX "public"."ix_label_query_dataset_status"`);
    await queryRunner.query(`ALTER TYPE "public"."label_query_status" ADD VALUE 'NEEDS_REVIEW'`);
    await queryRunner.query(
      `CREATE INDEX "ix_label_query_queue" ON "label_query"  ("dataset_id", "round_id", "rank") WHERE status = 'OPEN'`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_label_query_dataset_status" ON "label_query"  ("dataset_id", "status") `,
    );
    // Queries opened before queues existed get their one slot each.
    await queryRunner.query(
      `INSERT INTO query_slot (query_id, dataset_id, slot) SELECT id, dataset_id, 1 FROM label_query WHERE status = 'OPEN'`,
    );
    await queryRunner.query(
      `ALTER TABLE "query_skip" ADD CONSTRAINT "FK_e1285f33047b4615d60795b15bd" FOREIGN KEY ("query_id") REFERENCES "label_query"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "query_slot" ADD CONSTRAINT "FK_f7e8889cad67e02422584dd7bf5" FOREIGN KEY ("query_id") REFERENCES "label_query"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "query_slot" DROP CONSTRAINT "FK_f7e8889cad67e02422584dd7bf5"`,
    );
    await queryRunner.query(
      `ALTER TABLE "query_skip" DROP CONSTRAINT "FK_e1285f33047b4615d60795b15bd"`,
    );
    await queryRunner.query(`DROP INDEX "public"."ix_label_query_dataset_status"`);
    await queryRunner.query(`DROP INDEX "public"."ix_label_query_queue"`);
    await queryRunner.query(
      `UPDATE label_query SET status = 'ANSWERED' WHERE status = 'NEEDS_REVIEW'`,
    );
    await queryRunner.query(
      `CREATE TYPE "public"."label_query_status_old" AS ENUM('OPEN', 'ANSWERED', 'SKIPPED', 'CANCELLED')`,
    );
    await queryRunner.query(
      `ALTER TABLE "label_query" ALTER COLUMN "status" TYPE "public"."label_query_status_old" USING "status"::"text"::"public"."label_query_status_old"`,
    );
    await queryRunner.query(`DROP TYPE "public"."label_query_status"`);
    await queryRunner.query(
      `ALTER TYPE "public"."label_query_status_old" RENAME TO "label_query_status"`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_label_query_dataset_status" ON "label_query" USING btree ("dataset_id", "status") `,
    );
    await queryRunner.query(`ALTER TABLE "label_query" DROP COLUMN "resolved_class"`);
    await queryRunner.query(`ALTER TABLE "label_query" DROP COLUMN "answers_needed"`);
    await queryRunner.query(`DROP INDEX "public"."uq_query_slot"`);
    await queryRunner.query(`DROP INDEX "public"."uq_query_slot_token"`);
    await queryRunner.query(`DROP INDEX "public"."ix_query_slot_open"`);
    await queryRunner.query(`DROP INDEX "public"."ix_query_slot_answered"`);
    await queryRunner.query(`DROP INDEX "public"."ix_query_slot_annotator"`);
    await queryRunner.query(`DROP TABLE "query_slot"`);
    await queryRunner.query(`DROP INDEX "public"."ix_query_skip_query"`);
    await queryRunner.query(`DROP TABLE "query_skip"`);
  }
}
