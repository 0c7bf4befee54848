import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `dataset.pool_items`: how many POOL items the dataset holds, kept exact by statement triggers
 * on `item` (every insert path, written once). A process's feature cache checks itself against
 * it in one row read instead of counting a million item rows each round.
 */
export class DatasetPoolItems1795310000000 implements MigrationInterface {
  name = 'DatasetPoolItems1795310000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "dataset" ADD "pool_items" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(
      `UPDATE "dataset" d SET "pool_items" = (SELECT count(*) FROM "item" i WHERE i."dataset_id" = d."id" AND i."split" = 'POOL')`,
    );
    await queryRunner.query(`CREATE FUNCTION quarry_item_pool_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE dataset d SET pool_items = d.pool_items + n.c
      FROM (SELECT dataset_id, count(*)::int AS c FROM quarry_new_items WHERE split = 'POOL' GROUP BY dataset_id) n
      WHERE d.id = n.dataset_id;
  ELSE
    UPDATE dataset d SET pool_items = d.pool_items - n.c
      FROM (SELECT dataset_id, count(*)::int AS c FROM quarry_old_items WHERE split = 'POOL' GROUP BY dataset_id) n
      WHERE d.id = n.dataset_id;
  END IF;
  RETURN NULL;
END $$`);
    await queryRunner.query(
      `CREATE TRIGGER item_pool_count_insert AFTER INSERT ON "item" REFERENCING NEW TABLE AS quarry_new_items FOR EACH STATEMENT EXECUTE FUNCTION quarry_item_pool_count()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER item_pool_count_delete AFTER DELETE ON "item" REFERENCING OLD TABLE AS quarry_old_items FOR EACH STATEMENT EXECUTE FUNCTION quarry_item_pool_count()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER item_pool_count_delete ON "item"`);
    await queryRunner.query(`DROP TRIGGER item_pool_count_insert ON "item"`);
    await queryRunner.query(`DROP FUNCTION quarry_item_pool_count()`);
    await queryRunner.query(`ALTER TABLE "dataset" DROP COLUMN "pool_items"`);
  }
}
