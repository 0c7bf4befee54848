import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RoundsPredictions1795293539760 implements MigrationInterface {
  name = 'RoundsPredictions1795293539760';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "prediction" ("item_id" bigint NOT NULL, "model_id" uuid NOT NULL, "predicted_class" smallint NOT NULL, "confidence" real NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_c62b7932cb5fd226f7cd3497949" PRIMARY KEY ("item_id", "model_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_prediction_model" ON "prediction"  ("model_id") `);
    await queryRunner.query(`ALTER TABLE "round" ADD "seed" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "round" ADD "attempts" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(
      `ALTER TABLE "prediction" ADD CONSTRAINT "FK_c87f8003940b6537035ade9232e" FOREIGN KEY ("item_id") REFERENCES "item"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "prediction" ADD CONSTRAINT "FK_98dfcbeb0c5e6e1bba966587fc7" FOREIGN KEY ("model_id") REFERENCES "model"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "prediction" DROP CONSTRAINT "FK_98dfcbeb0c5e6e1bba966587fc7"`,
    );
    await queryRunner.query(
      `ALTER TABLE "prediction" DROP CONSTRAINT "FK_c87f8003940b6537035ade9232e"`,
    );
    await queryRunner.query(`ALTER TABLE "round" DROP COLUMN "attempts"`);
    await queryRunner.query(`ALTER TABLE "round" DROP COLUMN "seed"`);
    await queryRunner.query(`DROP INDEX "public"."ix_prediction_model"`);
    await queryRunner.query(`DROP TABLE "prediction"`);
  }
}
