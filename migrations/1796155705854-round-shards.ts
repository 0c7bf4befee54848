import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RoundShards1796155705854 implements MigrationInterface {
  name = 'RoundShards1796155705854';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TYPE "public"."round_shard_status" AS ENUM('PENDING', 'DONE', 'FAILED')`,
    );
    await queryRunner.query(
      `CREATE TABLE "round_shard" ("round_id" uuid NOT NULL, "shard_index" integer NOT NULL, "after_id" bigint NOT NULL, "last_id" bigint, "status" "public"."round_shard_status" NOT NULL DEFAULT 'PENDING', "attempts" integer NOT NULL DEFAULT '0', "runner" character varying(200), "proposal" jsonb, "outputs" bytea, "error" text, "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_b0bdd4cf66c66dd98b7a0be4e87" PRIMARY KEY ("round_id", "shard_index"))`,
    );
    await queryRunner.query(`ALTER TABLE "round" ADD "shards" integer NOT NULL DEFAULT '1'`);
    await queryRunner.query(
      `CREATE TYPE "public"."selection_method" AS ENUM('SINGLE_PROCESS', 'SHARDED_TOP_N', 'SHARDED_TWO_STAGE')`,
    );
    await queryRunner.query(
      `ALTER TABLE "round" ADD "selection_method" "public"."selection_method" NOT NULL DEFAULT 'SINGLE_PROCESS'`,
    );
    await queryRunner.query(
      `ALTER TABLE "round_shard" ADD CONSTRAINT "FK_d31fb460e4f48b163c1c294c22c" FOREIGN KEY ("round_id") REFERENCES "round"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "round_shard" DROP CONSTRAINT "FK_d31fb460e4f48b163c1c294c22c"`,
    );
    await queryRunner.query(`ALTER TABLE "round" DROP COLUMN "selection_method"`);
    await queryRunner.query(`DROP TYPE "public"."selection_method"`);
    await queryRunner.query(`ALTER TABLE "round" DROP COLUMN "shards"`);
    await queryRunner.query(`DROP TABLE "round_shard"`);
    await queryRunner.query(`DROP TYPE "public"."round_shard_status"`);
  }
}
