import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RoundsPredictions1795295012133 implements MigrationInterface {
  name = 'RoundsPredictions1795295012133';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "prediction" ("item_id" bigint NOT NULL, "model_id" uuid NOT NULL, "predicted_class" smallint NOT NULL, "confidence" real NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_c62b7932cb5fd226f7cd3497949" PRIMARY KEY ("item_id", "model_id"))`,
    );
    // Derived data, rewritten by every round: not worth the WAL (hand-added; see the entity).
    await queryRunner.query(`ALTER TABLE "prediction" SET UNLOGGED`);
    await queryRunner.query(`ALTER TABLE "round" ADD "seed" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "round" ADD "attempts" integer NOT NULL DEFAULT '0'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "round" DROP COLUMN "attempts"`);
    await queryRunner.query(`ALTER TABLE "round" DROP COLUMN "seed"`);
    await queryRunner.query(`DROP TABLE "prediction"`);
  }
}
