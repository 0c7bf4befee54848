import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testModel } from '../helpers/models';
import { gqlTo, serve, stopProcess, type Served } from '../helpers/process';
import { openRound, queueDataset } from '../helpers/queues';
import type { TestServer } from '../helpers/server';

describe('onnxruntime leaves nothing in the temp folder', () => {
  let tmp: string;
  let s: Served | undefined;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-ort-tmp-'));
  });
  afterAll(async () => {
    if (s) await stopProcess(s);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('writes no mat-debug-<pid>.log for the server, its inference workers or the model check', async () => {
    // TMPDIR is where onnxruntime's telemetry client put its empty trace file, one per process.
    s = await serve({ QUARRY_DATA_DIR: 'memory://', TMPDIR: tmp });
    const adminKey = /"apiKey":"(qk_[^"]+)"/.exec(s.output())![1];
    const t = {
      ok: (query: string, variables?: Record<string, unknown>) =>
        gqlTo(s!, adminKey, query, variables),
    } as unknown as TestServer;
    const d = await queueDataset(t, 'ort', { items: 50 });
    // Registering validates the model in a child process; the round scores it in the workers.
    const { registerModel } = await t.ok(
      'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id } }',
      { d, b: testModel({ featureDim: 4, classes: 3 }).toString('base64') },
    );
    await openRound(t, d, 5, { modelIds: [registerModel.id], strategy: 'margin' });
    await stopProcess(s);
    s = undefined;
    // Nor the telemetry client's session file.
    const left = fs.readdirSync(tmp).filter((f) => f.startsWith('mat-debug-') || f === '.ses');
    expect(left).toEqual([]);
    // A process start, a model check and a round: 50 s of the default 60 on a loaded machine.
  }, 180_000);
});
