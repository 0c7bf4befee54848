import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BadUserInputError, type InputProblem } from '../../../src/errors';
import { runSimulation, type SimulationProgress } from '../../../src/ml/simulation-engine';
import { runSimulationInWorker } from '../../../src/workers/simulation.worker';
import { digitsSimulationData } from '../../helpers/digits';
import { GUARDED_TRAINER_MODULE, registries, smallInput, withoutTime } from './helpers';

const COUNTING_STRATEGY_MODULE = path.resolve(
  __dirname,
  '../../fixtures/simulation/counting-strategy.js',
);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('runSimulationInWorker', () => {
  it('gives the in-process result, reports progress and takes the input buffers', async () => {
    const expected = runSimulation(smallInput(), registries());
    const input = smallInput();
    const seen: SimulationProgress[] = [];
    const result = await runSimulationInWorker(input, { onProgress: (p) => seen.push(p) });
    expect(withoutTime(result)).toEqual(withoutTime(expected));
    expect(seen.map((p) => p.done)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(seen.every((p) => p.total === 16)).toBe(true);
    expect(input.features.byteLength).toBe(0);
    expect(input.groundTruth.byteLength).toBe(0);
  });

  it('loads plugin strategies and trainers in the worker', async () => {
    const result = await runSimulationInWorker(
      smallInput({
        strategies: [{ code: 'counting-margin' }],
        trainer: { code: 'guarded-softmax', options: { C: 1, maxIterations: 10 } },
      }),
      { strategyModules: [COUNTING_STRATEGY_MODULE], trainerModules: [GUARDED_TRAINER_MODULE] },
    );
    expect(result.strategies[0].code).toBe('counting-margin');
    expect(result.trainer.code).toBe('guarded-softmax');
  });

  it('rejects bad input with BadUserInputError, its code and problems intact', async () => {
    const error = (await runSimulationInWorker(smallInput({ repeats: 0 })).catch(
      (e: unknown) => e,
    )) as BadUserInputError;
    expect(error).toBeInstanceOf(BadUserInputError);
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    expect((error.extensions.problems as InputProblem[]).map((p) => p.field)).toEqual(['repeats']);
  });

  it('stops the worker when the signal aborts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-sim-'));
    const countFile = path.join(dir, 'calls');
    fs.writeFileSync(countFile, '');
    process.env.QUARRY_SIM_SPEC_COUNT_FILE = countFile;
    const calls = () => fs.readFileSync(countFile, 'utf8').length / 2;
    try {
      const controller = new AbortController();
      const seen: number[] = [];
      const running = runSimulationInWorker(
        {
          ...digitsSimulationData(),
          strategies: [{ code: 'counting-margin' }],
          seedSize: 20,
          batchSize: 20,
          budget: 200,
          repeats: 5,
          trainer: { code: 'softmax' },
          seed: 1,
        },
        {
          strategyModules: [COUNTING_STRATEGY_MODULE],
          onProgress: ({ done }) => {
            seen.push(done);
            if (done === 3) controller.abort();
          },
          signal: controller.signal,
        },
      );
      await expect(running).rejects.toMatchObject({ name: 'AbortError' });
      expect(seen).toEqual([1, 2, 3]);
      // The thread is gone: the strategy, which scores at every step, scores no more.
      await sleep(300);
      const afterAbort = calls();
      await sleep(700);
      expect(calls()).toBe(afterAbort);
      expect(afterAbort).toBeLessThan(10);
    } finally {
      delete process.env.QUARRY_SIM_SPEC_COUNT_FILE;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects with the error of a progress callback that throws', async () => {
    const failure = new Error('progress sink is gone');
    await expect(
      runSimulationInWorker(smallInput(), {
        onProgress: () => {
          throw failure;
        },
      }),
    ).rejects.toBe(failure);
  });

  it('rejects at once for a signal that has already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      runSimulationInWorker(smallInput(), { signal: controller.signal }),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});
