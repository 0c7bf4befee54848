import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { onnx } from 'onnx-proto';
import { ModelOutputKind } from '../../src/entities/enums';
import {
  checkModel,
  ModelCheckError,
  ModelCheckLimits,
  ModelCheckRequest,
} from '../../src/ml/model-check';
import { buildFeedForwardOnnx, DenseLayer, FeedForwardSpec } from '../../src/ml/onnx-build';
import { waitFor } from '../helpers/wait-for';

const MIB = 1024 * 1024;
const LIMITS: ModelCheckLimits = { timeoutMs: 30_000, maxRssBytes: 1024 * MIB };

function dense(
  inDim: number,
  outDim: number,
  activation: DenseLayer['activation'] = 'none',
): DenseLayer {
  const weights = Float32Array.from({ length: inDim * outDim }, (_, i) => Math.sin(i) * 0.5);
  return { inDim, outDim, activation, weights, bias: new Float32Array(outDim) };
}

/** A one-hidden-layer classifier over 64 features and 10 classes unless told otherwise. */
function model(
  overrides: Partial<FeedForwardSpec> & {
    featureDim?: number;
    classCount?: number;
    hidden?: number;
  } = {},
): Buffer {
  const { featureDim = 64, classCount = 10, hidden = 8, ...spec } = overrides;
  return Buffer.from(
    buildFeedForwardOnnx({
      inputDim: featureDim,
      layers: [dense(featureDim, hidden, 'relu'), dense(hidden, classCount)],
      outputs: { probabilities: 'probabilities', embedding: 'embedding' },
      ...spec,
    }),
  );
}

/** A model whose Loop runs 10^12 times: it never finishes, as a model that hangs onnxruntime. */
function endlessModel(): Buffer {
  const { FLOAT, INT64, BOOL } = onnx.TensorProto.DataType;
  const tensor = (
    name: string,
    elemType: number,
    dim: onnx.TensorShapeProto.IDimension[],
  ): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType, shape: { dim } } },
  });
  const rows = [{ dimParam: 'N' }, { dimValue: 10 }];
  const body: onnx.IGraphProto = {
    name: 'body',
    input: [tensor('i', INT64, []), tensor('cond_in', BOOL, []), tensor('v_in', FLOAT, rows)],
    output: [tensor('cond_out', BOOL, []), tensor('v_out', FLOAT, rows)],
    node: [
      { opType: 'Identity', input: ['cond_in'], output: ['cond_out'] },
      { opType: 'Identity', input: ['v_in'], output: ['v_out'] },
    ],
  };
  const proto: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'endless',
      input: [tensor('features', FLOAT, rows)],
      output: [tensor('logits', FLOAT, rows)],
      initializer: [
        { name: 'trips', dataType: INT64, dims: [], int64Data: [1e12] },
        { name: 'keep_going', dataType: BOOL, dims: [], int32Data: [1] },
      ],
      node: [
        {
          opType: 'Loop',
          input: ['trips', 'keep_going', 'features'],
          output: ['logits'],
          attribute: [{ name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body }],
        },
      ],
    },
  };
  return Buffer.from(onnx.ModelProto.encode(proto).finish());
}

function request(onnxBytes: Buffer, extra: Partial<ModelCheckRequest> = {}): ModelCheckRequest {
  return { onnx: onnxBytes, featureDim: 64, classCount: 10, ...extra };
}

async function rejection(promise: Promise<unknown>): Promise<ModelCheckError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelCheckError);
  return error as ModelCheckError;
}

/** Live model-check children of this process, found in /proc so the test relies on nothing inside the module. */
function liveCheckChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('model-check.child')) {
        pids.push(Number(entry));
      }
    } catch {
      // The process ended while being read.
    }
  }
  return pids;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

describe('checkModel', () => {
  const seenPids = new Set<number>();
  let watcher: NodeJS.Timeout;
  beforeAll(() => {
    watcher = setInterval(() => liveCheckChildren().forEach((pid) => seenPids.add(pid)), 10);
  });
  afterAll(() => clearInterval(watcher));

  it('accepts a model giving probabilities and an embedding, and reports their names and width', async () => {
    await expect(checkModel(request(model()), LIMITS)).resolves.toEqual({
      inputName: 'features',
      outputName: 'probabilities',
      outputKind: ModelOutputKind.PROBABILITIES,
      embeddingOutputName: 'embedding',
      embeddingDim: 8,
    });
  });

  it('takes the output kind LOGITS from an output named logits', async () => {
    const logits = model({ inputName: 'x', outputs: { logits: 'class_logits' } });

    await expect(checkModel(request(logits), LIMITS)).resolves.toEqual({
      inputName: 'x',
      outputName: 'class_logits',
      outputKind: ModelOutputKind.LOGITS,
      embeddingOutputName: null,
      embeddingDim: null,
    });
  });

  it('uses the output and kind the caller declares when the names say nothing', async () => {
    const scores = model({ outputs: { logits: 'scores', embedding: 'hidden' } });

    await expect(
      checkModel(
        request(scores, {
          outputName: 'scores',
          outputKind: ModelOutputKind.LOGITS,
          embeddingOutput: 'hidden',
        }),
        LIMITS,
      ),
    ).resolves.toMatchObject({
      outputName: 'scores',
      outputKind: ModelOutputKind.LOGITS,
      embeddingOutputName: 'hidden',
      embeddingDim: 8,
    });
  });

  it('asks the caller to declare the output kind when the name says nothing', async () => {
    const error = await rejection(
      checkModel(request(model({ outputs: { logits: 'scores' } })), LIMITS),
    );

    expect(error.message).toBe(
      "cannot tell from its name whether output 'scores' gives probabilities or logits; declare outputKind",
    );
  });

  it('asks the caller to name the class-score output when several could be it', async () => {
    const error = await rejection(
      checkModel(request(model({ outputs: { logits: 'a', embedding: 'b' } })), LIMITS),
    );

    expect(error.message).toBe(
      "cannot tell which output gives the class scores among 'a', 'b'; name it with outputName",
    );
  });

  it('rejects bytes that are not a model, saying onnxruntime could not load them', async () => {
    const error = await rejection(checkModel(request(randomBytes(4096)), LIMITS));

    expect(error.message).toMatch(/^onnxruntime could not load the model: \S/);
    expect(error.message).not.toMatch(/\n|    at /);
  });

  it('rejects a model whose input is narrower than the dataset', async () => {
    const error = await rejection(checkModel(request(model({ featureDim: 63 })), LIMITS));

    expect(error.message).toBe(
      "the model's input 'features' takes 63 features per row, but the dataset has 64",
    );
  });

  it('rejects a model with a fixed batch size of 1', async () => {
    const proto = onnx.ModelProto.decode(model());
    const dims = proto.graph?.input?.[0].type?.tensorType?.shape?.dim;
    if (!dims) throw new Error('the builder wrote no input shape');
    dims[0] = { dimValue: 1 };
    const fixedBatch = Buffer.from(onnx.ModelProto.encode(proto).finish());

    const error = await rejection(checkModel(request(fixedBatch), LIMITS));

    expect(error.message).toMatch(
      /^the model's input 'features' has a fixed batch size of 1; its first dimension must be symbolic/,
    );
  });

  it('rejects a model giving fewer classes than the dataset has', async () => {
    const error = await rejection(checkModel(request(model({ classCount: 3 })), LIMITS));

    expect(error.message).toBe(
      "output 'probabilities' gives 3 classes per row, but the dataset has 10 classes",
    );
  });

  it('rejects a model whose output is NaN', async () => {
    const output = dense(8, 10);
    output.weights[5] = NaN;
    const nan = model({ layers: [dense(64, 8, 'relu'), output] });

    const error = await rejection(checkModel(request(nan), LIMITS));

    expect(error.message).toBe(
      "output 'probabilities' has non-finite values (NaN or Infinity) on a test batch",
    );
  });

  it('rejects scores declared as probabilities whose rows do not sum to 1', async () => {
    // Zero weights and a bias of 0.06 per class: every score is 0.06 and every row sums to 0.6.
    const constant: DenseLayer = {
      inDim: 64,
      outDim: 10,
      weights: new Float32Array(640),
      bias: new Float32Array(10).fill(0.06),
    };
    const scores = model({ layers: [constant], outputs: { logits: 'scores' } });

    const error = await rejection(
      checkModel(request(scores, { outputKind: ModelOutputKind.PROBABILITIES }), LIMITS),
    );

    expect(error.message).toBe(
      "output 'scores' should give probabilities (outputKind PROBABILITIES), but a row of a test batch sums to 0.6, not 1",
    );
  });

  it('stops a check that exceeds the time limit', async () => {
    const error = await rejection(checkModel(request(model()), { ...LIMITS, timeoutMs: 1 }));

    expect(error.message).toBe('validation took longer than 1 ms');
  });

  it('stops a model still running when the time limit is reached', async () => {
    const error = await rejection(
      checkModel(request(endlessModel(), { featureDim: 10 }), { ...LIMITS, timeoutMs: 500 }),
    );

    expect(error.message).toBe('validation took longer than 500 ms');
  });

  it('stops a check that exceeds the memory limit', async () => {
    const error = await rejection(
      checkModel(request(model()), { ...LIMITS, maxRssBytes: 20 * MIB }),
    );

    expect(error.message).toBe('validation used more than 20 MiB');
  });

  it('reports a crash, with the signal, when the child dies before replying', async () => {
    const outcome = rejection(checkModel(request(endlessModel(), { featureDim: 10 }), LIMITS));

    const pids = await waitFor(liveCheckChildren, {
      until: (live) => live.length > 0,
      intervalMs: 10,
      what: 'a model-check child process',
    });
    // What the kernel's OOM killer or a segfault looks like from outside.
    process.kill(pids[0], 'SIGSEGV');

    expect((await outcome).message).toBe(
      'the model crashed onnxruntime during validation (signal SIGSEGV)',
    );
  });

  it('leaves no model-check process running after all the checks above', () => {
    expect(seenPids.size).toBeGreaterThan(5);
    expect(liveCheckChildren()).toEqual([]);
    expect([...seenPids].filter(isAlive)).toEqual([]);
  });
});
