import { loadConfig } from '../../src/config';
import { TaskRunner } from '../../src/jobs/task.runner';
import type { ModelService } from '../../src/services/model.service';
import type { TrainerPool } from '../../src/workers/trainer.pool';
import { backends, freshDatabase } from '../helpers/db';

for (const backend of backends()) {
  describe(`a task job [${backend}]`, () => {
    let fresh: Awaited<ReturnType<typeof freshDatabase>>;
    let taskId: string;
    const rechecks: [string, number][] = [];
    let training = 0;
    let runner: TaskRunner;

    beforeAll(async () => {
      fresh = await freshDatabase(backend);
      const config = loadConfig({}, { dataDir: 'memory://', roundJobExpireSeconds: 60 });
      // Training never ends here: the task is still running when the process stops.
      const trainerPool = {
        train: () => {
          training++;
          return new Promise(() => undefined);
        },
      } as unknown as TrainerPool;
      runner = new TaskRunner(
        fresh.db,
        config,
        trainerPool,
        {} as ModelService,
        undefined,
        async (id, after) => {
          rechecks.push([id, after]);
        },
      );
      const [{ id: datasetId }] = await fresh.db.ds.query(
        "INSERT INTO dataset (name, classes, feature_dim) VALUES ('tb', '{a,b}', 2) RETURNING id",
      );
      [{ id: taskId }] = await fresh.db.ds.query(
        `INSERT INTO task (dataset_id, kind, status, params, attempts, heartbeat_at)
         VALUES ($1, 'TRAIN', 'RUNNING', $2, 1, now()) RETURNING id`,
        [datasetId, { trainer: 'softmax', options: {}, includeModelLabels: false, name: 'm' }],
      );
    });

    afterAll(async () => {
      await fresh.drop();
    });

    const state = async () =>
      (
        await fresh.db.ds.query(
          'SELECT status, attempts, heartbeat_at IS NOT NULL AS beating FROM task WHERE id = $1',
          [taskId],
        )
      )[0];

    it('leaves a task that another process is still running alone, and looks again later', async () => {
      await runner.run(taskId);
      expect(await state()).toEqual({ status: 'RUNNING', attempts: 1, beating: true });
      expect(rechecks).toEqual([[taskId, 31]]);
      expect(training).toBe(0);
    });

    it('takes over a task whose process stopped beating, and hands it back at once on shutdown', async () => {
      await fresh.db.ds.query(
        "UPDATE task SET heartbeat_at = now() - interval '5 minutes' WHERE id = $1",
        [taskId],
      );
      const running = runner.run(taskId);
      const outcome = running.then(
        () => 'finished',
        (e: Error) => e.message,
      );
      while (training === 0) await new Promise((r) => setTimeout(r, 10));
      expect(await state()).toEqual({ status: 'RUNNING', attempts: 2, beating: true });
      await runner.interrupt();
      // The job fails at once (for pg-boss to retry it elsewhere) and the task waits for it.
      expect(await outcome).toBe('this process is stopping');
      expect(await state()).toEqual({ status: 'QUEUED', attempts: 2, beating: false });
      const [{ error }] = await fresh.db.ds.query('SELECT error FROM task WHERE id = $1', [taskId]);
      expect(error).toBeNull();
    });
  });
}
