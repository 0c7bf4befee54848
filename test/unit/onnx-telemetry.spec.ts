import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { testModel } from '../helpers/models';

/**
 * The test run itself leaves no `mat-debug-<pid>.log` (see src/ml/onnx-env.ts): specs load
 * onnxruntime in their Jest worker process (in-process servers' inference threads, model checks,
 * specs running models), where Quarry's `process.env.ORT_DISABLE_TELEMETRY = '1'` only reaches
 * Jest's copy of the environment, never the one the native library reads. The global setup sets
 * it in the real environment before the workers start.
 */

/** Loads onnxruntime in a worker thread of this process and creates a session, as servers do. */
async function createSessionHere(): Promise<void> {
  const worker = new Worker(
    `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
ort.InferenceSession.create(workerData.model, { intraOpNumThreads: 1, interOpNumThreads: 1 })
  .then((s) => s.release())
  .then(() => parentPort.postMessage('ok'), (e) => parentPort.postMessage(String(e)));
`,
    {
      eval: true,
      workerData: {
        ortPath: require.resolve('onnxruntime-node'),
        model: testModel({ featureDim: 4, classes: 3 }),
      },
    },
  );
  try {
    const [reply] = (await once(worker, 'message')) as [string];
    expect(reply).toBe('ok');
  } finally {
    await worker.terminate();
  }
}

describe('onnxruntime in the test run', () => {
  it('leaves no mat-debug-<pid>.log (nor the telemetry session file .ses) for the Jest worker process', async () => {
    const startedAt = Date.now() - process.uptime() * 1000;
    await createSessionHere();
    // The telemetry client opened its file as the runtime's environment was created; give a
    // background thread a moment all the same.
    await new Promise((r) => setTimeout(r, 500));
    // Files of earlier processes (one that had this pid, another run's session) do not count.
    const left = [`mat-debug-${process.pid}.log`, '.ses']
      .map((name) => path.join(os.tmpdir(), name))
      .filter((file) => fs.existsSync(file) && fs.statSync(file).mtimeMs >= startedAt - 1000);
    expect(left).toEqual([]);
  });
});
