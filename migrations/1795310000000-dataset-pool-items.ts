import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `dataset_pool_count`: how many POOL items each dataset holds, kept exact by statement triggers
 * on `item` (every insert path, written once). A process's feature cache checks itself against
 * it in one row read instead of counting a million item rows each round. A table of its own, not
 * a column of `dataset`: writing items must not wait for the dataset row, which budget checks
 * lock (FOR NO KEY UPDATE) for the length of a claim or a round.
 */
export class DatasetPoolItems1795310000000 implements MigrationInterface {
  name = 'DatasetPoolItems1795310000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "dataset_pool_count" ("dataset_id" uuid PRIMARY KEY REFERENCES "dataset"("id") ON DELETE CASCADE, "pool_items" integer NOT NULL DEFAULT 0)`,
    );
    await queryRunner.query(
      `INSERT INTO "dataset_pool_count" ("dataset_id", "pool_items") SELECT "dataset_id", count(*)::int FROM "item" WHERE "split" = 'POOL' GROUP BY "dataset_id"`,
    );
    await queryRunner.query(`CREATE FUNCTION quarry_item_pool_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO dataset_pool_count AS p (dataset_id, pool_items)
      SELECT dataset_id, count(*)::int FROM quarry_new_items WHERE split = 'POOL' GROUP BY dataset_id
      ON CONFLICT (dataset_id) DO UPDATE SET pool_items = p.pool_items + EXCLUDED.pool_items;
  ELSE
    UPDATE dataset_pool_count p SET pool_items = p.pool_items - n.c
      FROM (SELECT dataset_id, count(*)::int AS c FROM quarry_old_items WHERE split = 'POOL' GROUP BY dataset_id) n
      WHERE p.dataset_id = n.dataset_id;
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
    await queryRunner.query(`DROP TABLE "dataset_pool_count"`);
  }
}
