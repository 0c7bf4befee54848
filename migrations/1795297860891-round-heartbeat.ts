import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RoundHeartbeat1795297860891 implements MigrationInterface {
  name = 'RoundHeartbeat1795297860891';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "round" ADD "heartbeat_at" TIMESTAMP WITH TIME ZONE`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "round" DROP COLUMN "heartbeat_at"`);
  }
}
