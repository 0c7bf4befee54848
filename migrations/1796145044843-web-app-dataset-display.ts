import type { MigrationInterface, QueryRunner } from 'typeorm';

export class WebAppDatasetDisplay1796145044843 implements MigrationInterface {
  name = 'WebAppDatasetDisplay1796145044843';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "dataset" ADD "guidelines" text NOT NULL DEFAULT ''`);
    await queryRunner.query(`ALTER TABLE "dataset" ADD "payload_field" character varying(200)`);
    await queryRunner.query(
      `ALTER TABLE "dataset" ADD "payload_kind" character varying(20) NOT NULL DEFAULT 'AUTO'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "dataset" DROP COLUMN "payload_kind"`);
    await queryRunner.query(`ALTER TABLE "dataset" DROP COLUMN "payload_field"`);
    await queryRunner.query(`ALTER TABLE "dataset" DROP COLUMN "guidelines"`);
  }
}
