import type { TestServer } from './server';
import { waitFor } from './wait-for';

/**
 * Trains a `softmax` model (seed 3) on the dataset's labels through `trainModel`, waits for the
 * run to succeed (a FAILED run throws its error) and resolves with the new model's id.
 */
export async function trainSoftmax(t: TestServer, datasetId: string): Promise<string> {
  const { trainModel } = await t.ok(
    'mutation($i: TrainModelInput!) { trainModel(input: $i) { id } }',
    { i: { datasetId, trainer: 'softmax', options: { seed: 3 } } },
  );
  const trainingRun = await waitFor(
    async () => {
      const { trainingRun } = await t.ok(
        'query($id: ID!) { trainingRun(id: $id) { status error modelId } }',
        { id: trainModel.id },
      );
      if (trainingRun.status === 'FAILED') throw new Error(trainingRun.error);
      return trainingRun;
    },
    {
      until: (run) => run.status === 'SUCCEEDED',
      timeoutMs: 90_000,
      what: `training run ${trainModel.id} to succeed`,
    },
  );
  return trainingRun.modelId;
}
