import { loadConfig } from '../../src/config';
import crypto from 'node:crypto';
import { JobQueue, TASK_GAVE_UP_QUEUE, TASK_RETRY_LIMIT } from '../../src/jobs/job-queue';
import { TaskRunner } from '../../src/jobs/task.runner';
import type { ModelService } from '../../src/services/model.service';
import type { TrainerPool } from '../../src/workers/trainer.pool';
import { backends, freshDatabase } from '../helpers/db';
import { describeEachDb } from '../helpers/server';
import { waitFor } from '../helpers/wait-for';

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

    it('leaves a task still beating elsewhere alone when its job gives up, and looks again later', async () => {
      await fresh.db.ds.query(
        "UPDATE task SET status = 'RUNNING', heartbeat_at = now() WHERE id = $1",
        [taskId],
      );
      rechecks.length = 0;
      await runner.giveUp(taskId);
      expect((await state()).status).toBe('RUNNING');
      expect(rechecks).toEqual([[taskId, 31]]);
    });

    it('marks a task FAILED when its job gives up, saying how often it was interrupted', async () => {
      await fresh.db.ds.query(
        "UPDATE task SET status = 'QUEUED', attempts = 3, heartbeat_at = NULL WHERE id = $1",
        [taskId],
      );
      await runner.giveUp(taskId);
      const [row] = await fresh.db.ds.query(
        'SELECT status, error, finished_at IS NOT NULL AS finished FROM task WHERE id = $1',
        [taskId],
      );
      expect(row).toEqual({
        status: 'FAILED',
        error:
          'The training was interrupted 3 times and never finished (its process stopped or died each time); start it again.',
        finished: true,
      });
      // A finished task stays as it is.
      await runner.giveUp(taskId);
      expect((await state()).status).toBe('FAILED');
    });
  });

  describe(`the task queue [${backend}]`, () => {
    let fresh: Awaited<ReturnType<typeof freshDatabase>>;
    let jobs: JobQueue | undefined;

    beforeAll(async () => {
      fresh = await freshDatabase(backend);
    });

    afterAll(async () => {
      await jobs?.stop();
      await fresh.drop();
    });

    it('hands a task whose job failed more often than the retry limit to the give-up worker', async () => {
      jobs = await JobQueue.start(fresh.db, { roundJobExpireSeconds: 60, pollingSeconds: 0.5 });
      const taskId = crypto.randomUUID();
      let tries = 0;
      const gaveUp: string[] = [];
      await jobs.workTasks(
        async () => {
          tries++;
          throw new Error('this process is stopping');
        },
        async (data) => {
          gaveUp.push(data.taskId);
        },
      );
      await fresh.db.ds.transaction((m) => jobs!.sendTask(m, { taskId }));
      await waitFor(async () => gaveUp, {
        until: (g) => g.length > 0,
        timeoutMs: 30_000,
        intervalMs: 100,
        what: 'the task job to give up',
      });
      expect(gaveUp).toEqual([taskId]);
      expect(tries).toBe(TASK_RETRY_LIMIT + 1);
    }, 60_000);
  });
}

describeEachDb('a server whose task job gave up', (t) => {
  it('marks the task FAILED through its give-up worker, and the API shows why', async () => {
    const { createDataset } = await t().ok(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { name: 'gave-up', classes: ['a', 'b'], featureDim: 2 } },
    );
    const [{ id }] = await t().sql(
      `INSERT INTO task (dataset_id, kind, status, params, attempts)
       VALUES ($1, 'SIMULATE', 'QUEUED', '{}', 3) RETURNING id::text AS id`,
      [createDataset.id],
    );
    // What pg-boss does when the task's job has used its last retry.
    await t().sql('INSERT INTO pgboss.job (name, data) VALUES ($1, $2)', [
      TASK_GAVE_UP_QUEUE,
      { taskId: id },
    ]);
    const simulation = await waitFor(
      async () =>
        (await t().ok('query($id: ID!) { simulation(id: $id) { status error } }', { id }))
          .simulation,
      {
        until: (s) => s.status !== 'QUEUED',
        timeoutMs: 30_000,
        intervalMs: 100,
        what: 'the give-up worker to end the task',
      },
    );
    expect(simulation).toEqual({
      status: 'FAILED',
      error:
        'The simulation was interrupted 3 times and never finished (its process stopped or died each time); start it again.',
    });
  });
});
