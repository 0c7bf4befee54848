import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RoundItemsSkipped1795304517000 implements MigrationInterface {
  name = 'RoundItemsSkipped1795304517000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "round" ADD "items_skipped" integer NOT NULL DEFAULT '0'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "round" DROP COLUMN "items_skipped"`);
  }
}
