import { loadConfig } from '../../src/config';
import type { InferencePool } from '../../src/workers/inference.pool';
import { RoundRunner } from '../../src/jobs/round.runner';
import { loadStrategies } from '../../src/strategies/registry';
import { backends, freshDatabase } from '../helpers/db';

for (const backend of backends()) {
  describe(`a retried round job [${backend}]`, () => {
    let fresh: Awaited<ReturnType<typeof freshDatabase>>;
    let roundId: string;
    const rechecks: [string, number][] = [];
    let runner: RoundRunner;

    beforeAll(async () => {
      fresh = await freshDatabase(backend);
      const config = loadConfig({}, { dataDir: 'memory://', roundJobExpireSeconds: 60 });
      // No inference happens here: the strategy needs no model and the pool is empty.
      runner = new RoundRunner(
        fresh.db,
        config,
        loadStrategies(),
        {} as InferencePool,
        async (id, after) => {
          rechecks.push([id, after]);
        },
      );
      const [{ id: datasetId }] = await fresh.db.ds.query(
        "INSERT INTO dataset (name, classes, feature_dim) VALUES ('hb', '{a,b}', 2) RETURNING id",
      );
      [{ id: roundId }] = await fresh.db.ds.query(
        `INSERT INTO round (dataset_id, strategy, size, status, attempts, heartbeat_at)
         VALUES ($1, 'random', 5, 'SCORING', 1, now()) RETURNING id`,
        [datasetId],
      );
    });

    afterAll(async () => {
      await fresh.drop();
    });

    const state = async () =>
      (await fresh.db.ds.query('SELECT status, attempts FROM round WHERE id = $1', [roundId]))[0];

    it('leaves a round that another process is still running alone, and looks again later', async () => {
      await runner.run(roundId);
      expect(await state()).toEqual({ status: 'SCORING', attempts: 1 });
      expect(rechecks).toEqual([[roundId, 31]]);
    });

    it('takes over a round whose process stopped beating', async () => {
      await fresh.db.ds.query(
        "UPDATE round SET heartbeat_at = now() - interval '5 minutes' WHERE id = $1",
        [roundId],
      );
      await runner.run(roundId);
      const after = await state();
      expect(after.attempts).toBe(2);
      // The dataset has no items: the run that took over ends the round, readably.
      expect(after.status).toBe('FAILED');
      const [{ error }] = await fresh.db.ds.query('SELECT error FROM round WHERE id = $1', [
        roundId,
      ]);
      expect(error).toContain('pool is empty');
    });

    it('marks a round FAILED when its job gives up', async () => {
      await fresh.db.ds.query("UPDATE round SET status = 'QUEUED', error = NULL WHERE id = $1", [
        roundId,
      ]);
      await runner.giveUp(roundId);
      const [{ status, error }] = await fresh.db.ds.query(
        'SELECT status, error FROM round WHERE id = $1',
        [roundId],
      );
      expect(status).toBe('FAILED');
      expect(error).toContain('never finished');
    });
  });
}
