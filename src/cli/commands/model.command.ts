import fs from 'node:fs';
import path from 'node:path';
import { TrainingRunDocument, TrainModelDocument, type ModelOutputKind } from '@quarry/client';
import { clientFrom, resolveDataset, type CliClient } from '../options';
import { err, out } from '../output';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `quarry model add`: registers an ONNX file and prints the model's id. */
export async function modelAdd(
  file: string,
  opts: {
    dataset: string;
    name?: string;
    inputName?: string;
    outputName?: string;
    outputKind?: string;
    embeddingOutput?: string;
    url?: string;
    apiKey?: string;
  },
): Promise<void> {
  const client = clientFrom(opts);
  const dataset = await resolveDataset(client, opts.dataset);
  const m = await client.sdk.models.register(dataset.id, {
    name: opts.name ?? path.basename(file, path.extname(file)),
    onnx: fs.readFileSync(file),
    inputName: opts.inputName,
    outputName: opts.outputName,
    // The server names a kind it does not know.
    outputKind: opts.outputKind?.toUpperCase() as ModelOutputKind | undefined,
    embeddingOutput: opts.embeddingOutput,
  });
  err(
    `Registered ${m.name} as version ${m.version} of ${JSON.stringify(dataset.name)} (${m.outputKind} from ${JSON.stringify(m.outputName)}${m.embeddingOutputName ? `, embedding ${JSON.stringify(m.embeddingOutputName)} of ${m.embeddingDim}` : ''}).`,
  );
  out(m.id);
}

/** `quarry model train`: starts a training run and, unless --no-wait, waits for its model. */
export async function trainCommand(
  client: CliClient,
  datasetId: string,
  opts: {
    trainer: string;
    options?: string;
    includeModelLabels?: boolean;
    name?: string;
    wait: boolean;
  },
): Promise<void> {
  let options: unknown;
  if (opts.options) {
    try {
      options = JSON.parse(opts.options);
    } catch {
      throw new Error(`--options must be JSON, e.g. '{"C": 10}'; got ${opts.options}`);
    }
  }
  const { trainModel } = await client.sdk.request(TrainModelDocument, {
    input: {
      datasetId,
      trainer: opts.trainer,
      options,
      includeModelLabels: opts.includeModelLabels ?? false,
      name: opts.name,
    },
  });
  if (!opts.wait) {
    out(trainModel.id);
    return;
  }
  err(`Training ${opts.trainer} (run ${trainModel.id})…`);
  for (;;) {
    const { trainingRun: run } = await client.sdk.request(TrainingRunDocument, {
      id: trainModel.id,
    });
    if (run.status === 'FAILED') throw new Error(`Training failed: ${run.error}`);
    if (run.status === 'SUCCEEDED') {
      const m = run.model!;
      const metrics = m.metrics
        ? `validation accuracy ${m.metrics.accuracy.toFixed(3)}, macro-F1 ${m.metrics.macroF1.toFixed(3)} on ${m.metrics.rows} items`
        : 'no labelled VALIDATION items to measure it on';
      err(
        `Registered ${m.name} as version ${m.version}, trained on ${m.humanLabels} labels: ${metrics}.`,
      );
      out(m.id);
      return;
    }
    await sleep(250);
  }
}
