import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1795291952751 implements MigrationInterface {
  name = 'InitialSchema1795291952751';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TYPE "public"."api_key_role" AS ENUM('ADMIN', 'SERVICE', 'ANNOTATOR')`,
    );
    await queryRunner.query(
      `CREATE TABLE "api_key" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(200) NOT NULL, "role" "public"."api_key_role" NOT NULL, "dataset_ids" uuid array, "prefix" character varying(16) NOT NULL, "secret_hash" character(64) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "UQ_b227edd98d489363d65e908e60f" UNIQUE ("secret_hash"), CONSTRAINT "PK_b1bd840641b8acbaad89c3d8d11" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "dataset" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(200) NOT NULL, "description" text NOT NULL DEFAULT '', "classes" text array NOT NULL, "feature_dim" integer NOT NULL, "label_budget" integer, "annotations_per_item" integer NOT NULL DEFAULT '1', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_109fd11edd246e0465d2e7e76a1" UNIQUE ("name"), CONSTRAINT "PK_36c1c67adb3d1dd69ae57f18913" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "idempotency_record" ("key" character varying(300) NOT NULL, "request_hash" character(64) NOT NULL, "response" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_c30d9b595b0c4bf59cc03ce604c" PRIMARY KEY ("key"))`,
    );
    await queryRunner.query(
      `CREATE TYPE "public"."item_split" AS ENUM('POOL', 'VALIDATION', 'TEST')`,
    );
    await queryRunner.query(`CREATE TYPE "public"."item_origin" AS ENUM('IMPORTED', 'SYNTHETIC')`);
    await queryRunner.query(
      `CREATE TABLE "item" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "dataset_id" uuid NOT NULL, "external_id" character varying(512) NOT NULL, "payload" jsonb NOT NULL DEFAULT '{}', "features" bytea NOT NULL, "split" "public"."item_split" NOT NULL DEFAULT 'POOL', "origin" "public"."item_origin" NOT NULL DEFAULT 'IMPORTED', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_d3c0c71f23e7adcf952a1d13423" PRIMARY KEY ("id"))`,
    );
    // Feature vectors do not compress: store them out of line, uncompressed (hand-added).
    await queryRunner.query(`ALTER TABLE "item" ALTER COLUMN "features" SET STORAGE EXTERNAL`);
    await queryRunner.query(
      `CREATE INDEX "ix_item_dataset_split_id" ON "item"  ("dataset_id", "split", "id") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_item_dataset_external_id" ON "item"  ("dataset_id", "external_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "label" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "dataset_id" uuid NOT NULL, "item_id" bigint NOT NULL, "class_index" smallint NOT NULL, "source" character varying(32) NOT NULL, "api_key_id" uuid, "annotator_id" character varying(200), "model_id" uuid, "confidence" real, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "superseded_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_5692ac5348861d3776eb5843672" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_label_item_id" ON "label"  ("item_id", "id") `);
    await queryRunner.query(`CREATE INDEX "ix_label_dataset_id" ON "label"  ("dataset_id", "id") `);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_label_current_per_source" ON "label"  ("item_id", "source") WHERE superseded_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE TYPE "public"."round_status" AS ENUM('QUEUED', 'SCORING', 'SELECTING', 'OPEN', 'CLOSED', 'FAILED', 'CANCELLED')`,
    );
    await queryRunner.query(
      `CREATE TABLE "round" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "dataset_id" uuid NOT NULL, "strategy" character varying(100) NOT NULL, "params" jsonb NOT NULL DEFAULT '{}', "size" integer NOT NULL, "model_ids" uuid array NOT NULL DEFAULT '{}', "status" "public"."round_status" NOT NULL DEFAULT 'QUEUED', "items_scored" integer NOT NULL DEFAULT '0', "items_total" integer NOT NULL DEFAULT '0', "error" text, "created_by" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "started_at" TIMESTAMP WITH TIME ZONE, "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_34bd959f3f4a90eb86e4ae24d2d" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_round_dataset_created" ON "round"  ("dataset_id", "created_at") `,
    );
    await queryRunner.query(
      `CREATE TYPE "public"."label_query_status" AS ENUM('OPEN', 'ANSWERED', 'SKIPPED', 'CANCELLED')`,
    );
    await queryRunner.query(
      `CREATE TABLE "label_query" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "dataset_id" uuid NOT NULL, "round_id" uuid NOT NULL, "item_id" bigint NOT NULL, "rank" integer NOT NULL, "score" double precision NOT NULL, "reason" jsonb NOT NULL DEFAULT '{}', "status" "public"."label_query_status" NOT NULL DEFAULT 'OPEN', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "answered_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_c4b55bf989b7b6f54e1a617ae05" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_label_query_item" ON "label_query"  ("item_id") `);
    await queryRunner.query(
      `CREATE INDEX "ix_label_query_dataset_status" ON "label_query"  ("dataset_id", "status") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_label_query_round_item" ON "label_query"  ("round_id", "item_id") `,
    );
    await queryRunner.query(
      `CREATE TYPE "public"."model_output_kind" AS ENUM('PROBABILITIES', 'LOGITS')`,
    );
    await queryRunner.query(
      `CREATE TABLE "model" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "dataset_id" uuid NOT NULL, "name" character varying(200) NOT NULL, "version" integer NOT NULL, "onnx" bytea NOT NULL, "size_bytes" integer NOT NULL, "sha256" character(64) NOT NULL, "input_name" character varying(200) NOT NULL, "output_name" character varying(200) NOT NULL, "output_kind" "public"."model_output_kind" NOT NULL, "embedding_output_name" character varying(200), "embedding_dim" integer, "created_by" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_d6df271bba301d5cc79462912a4" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_model_dataset_version" ON "model"  ("dataset_id", "version") `,
    );
    await queryRunner.query(
      `ALTER TABLE "item" ADD CONSTRAINT "FK_44aeded38e0eae7f1be7831ac20" FOREIGN KEY ("dataset_id") REFERENCES "dataset"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "label" ADD CONSTRAINT "FK_31557c64032882864f7acd50c7e" FOREIGN KEY ("item_id") REFERENCES "item"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "round" ADD CONSTRAINT "FK_972374c8eb6a665a9999f87e490" FOREIGN KEY ("dataset_id") REFERENCES "dataset"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "label_query" ADD CONSTRAINT "FK_6aca39d9f90e5f48245969df619" FOREIGN KEY ("round_id") REFERENCES "round"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "label_query" ADD CONSTRAINT "FK_e88453c8e847ed39e4354a82e17" FOREIGN KEY ("item_id") REFERENCES "item"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "model" ADD CONSTRAINT "FK_465e42b7c1db633a4242d3d0e71" FOREIGN KEY ("dataset_id") REFERENCES "dataset"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "model" DROP CONSTRAINT "FK_465e42b7c1db633a4242d3d0e71"`);
    await queryRunner.query(
      `ALTER TABLE "label_query" DROP CONSTRAINT "FK_e88453c8e847ed39e4354a82e17"`,
    );
    await queryRunner.query(
      `ALTER TABLE "label_query" DROP CONSTRAINT "FK_6aca39d9f90e5f48245969df619"`,
    );
    await queryRunner.query(`ALTER TABLE "round" DROP CONSTRAINT "FK_972374c8eb6a665a9999f87e490"`);
    await queryRunner.query(`ALTER TABLE "label" DROP CONSTRAINT "FK_31557c64032882864f7acd50c7e"`);
    await queryRunner.query(`ALTER TABLE "item" DROP CONSTRAINT "FK_44aeded38e0eae7f1be7831ac20"`);
    await queryRunner.query(`DROP INDEX "public"."uq_model_dataset_version"`);
    await queryRunner.query(`DROP TABLE "model"`);
    await queryRunner.query(`DROP TYPE "public"."model_output_kind"`);
    await queryRunner.query(`DROP INDEX "public"."uq_label_query_round_item"`);
    await queryRunner.query(`DROP INDEX "public"."ix_label_query_dataset_status"`);
    await queryRunner.query(`DROP INDEX "public"."ix_label_query_item"`);
    await queryRunner.query(`DROP TABLE "label_query"`);
    await queryRunner.query(`DROP TYPE "public"."label_query_status"`);
    await queryRunner.query(`DROP INDEX "public"."ix_round_dataset_created"`);
    await queryRunner.query(`DROP TABLE "round"`);
    await queryRunner.query(`DROP TYPE "public"."round_status"`);
    await queryRunner.query(`DROP INDEX "public"."uq_label_current_per_source"`);
    await queryRunner.query(`DROP INDEX "public"."ix_label_dataset_id"`);
    await queryRunner.query(`DROP INDEX "public"."ix_label_item_id"`);
    await queryRunner.query(`DROP TABLE "label"`);
    await queryRunner.query(`DROP INDEX "public"."uq_item_dataset_external_id"`);
    await queryRunner.query(`DROP INDEX "public"."ix_item_dataset_split_id"`);
    await queryRunner.query(`DROP TABLE "item"`);
    await queryRunner.query(`DROP TYPE "public"."item_origin"`);
    await queryRunner.query(`DROP TYPE "public"."item_split"`);
    await queryRunner.query(`DROP TABLE "idempotency_record"`);
    await queryRunner.query(`DROP TABLE "dataset"`);
    await queryRunner.query(`DROP TABLE "api_key"`);
    await queryRunner.query(`DROP TYPE "public"."api_key_role"`);
  }
}
