import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Webhooks1796145478456 implements MigrationInterface {
  name = 'Webhooks1796145478456';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TYPE "public"."webhook_event_kind" AS ENUM('LABEL_CREATED', 'QUERY_ANSWERED', 'ROUND_OPENED', 'ROUND_CLOSED', 'MODEL_REGISTERED', 'AUTO_LABEL_FINISHED', 'BUDGET_EXHAUSTED', 'PING')`,
    );
    await queryRunner.query(
      `CREATE TABLE "webhook" ("dataset_id" uuid NOT NULL, "id" uuid NOT NULL DEFAULT gen_random_uuid(), "url" character varying(2000) NOT NULL, "events" "public"."webhook_event_kind" array NOT NULL, "secret" character varying(200) NOT NULL, "active" boolean NOT NULL DEFAULT true, "created_by" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_e6765510c2d078db49632b59020" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_webhook_dataset" ON "webhook"  ("dataset_id") `);
    // The enum is shared by both tables (TypeORM's generator creates it once per table).
    await queryRunner.query(
      `CREATE TYPE "public"."webhook_delivery_status" AS ENUM('PENDING', 'SUCCEEDED', 'FAILED')`,
    );
    await queryRunner.query(
      `CREATE TABLE "webhook_delivery" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "webhook_id" uuid NOT NULL, "event" "public"."webhook_event_kind" NOT NULL, "body" text NOT NULL, "status" "public"."webhook_delivery_status" NOT NULL DEFAULT 'PENDING', "attempts" integer NOT NULL DEFAULT '0', "response_status" integer, "error" character varying(1000), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_attempt_at" TIMESTAMP WITH TIME ZONE, "delivered_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_b1ae290239a778f12399db91354" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_webhook_delivery_webhook" ON "webhook_delivery"  ("webhook_id", "id") `,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook" ADD CONSTRAINT "FK_4d3809e006f30e1f9ce944f57c6" FOREIGN KEY ("dataset_id") REFERENCES "dataset"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_delivery" ADD CONSTRAINT "FK_ef25cc28dcf88ea3dd81f39af2d" FOREIGN KEY ("webhook_id") REFERENCES "webhook"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "webhook_delivery" DROP CONSTRAINT "FK_ef25cc28dcf88ea3dd81f39af2d"`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook" DROP CONSTRAINT "FK_4d3809e006f30e1f9ce944f57c6"`,
    );
    await queryRunner.query(`DROP INDEX "public"."ix_webhook_delivery_webhook"`);
    await queryRunner.query(`DROP TABLE "webhook_delivery"`);
    await queryRunner.query(`DROP TYPE "public"."webhook_delivery_status"`);
    await queryRunner.query(`DROP INDEX "public"."ix_webhook_dataset"`);
    await queryRunner.query(`DROP TABLE "webhook"`);
    await queryRunner.query(`DROP TYPE "public"."webhook_event_kind"`);
  }
}
