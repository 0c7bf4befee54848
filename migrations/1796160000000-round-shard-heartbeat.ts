import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RoundShardHeartbeat1796160000000 implements MigrationInterface {
  name = 'RoundShardHeartbeat1796160000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "round_shard" ADD "heartbeat_at" TIMESTAMP WITH TIME ZONE`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "round_shard" DROP COLUMN "heartbeat_at"`);
  }
}
