import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ApiKeyCreatedIndex1796150000000 implements MigrationInterface {
  name = 'ApiKeyCreatedIndex1796150000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "ix_api_key_created" ON "api_key" ("created_at", "id") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_api_key_created"`);
  }
}
