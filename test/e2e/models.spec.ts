import crypto from 'node:crypto';
import { ApiKeyRole } from '../../src/entities';
import {
  buildFeedForwardOnnx,
  type DenseLayer,
  type FeedForwardSpec,
} from '../../src/ml/onnx-build';
import { codeOf, describeEachDb, type GqlResponse, type TestServer } from '../helpers/server';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';

const MODEL_FIELDS = `id datasetId name version sizeBytes sha256 inputName outputName outputKind
  embeddingOutputName embeddingDim createdAt`;

const REGISTER = `mutation($d: ID!, $name: String!, $onnxBase64: String, $file: Upload, $outputName: String) {
  registerModel(datasetId: $d, name: $name, onnxBase64: $onnxBase64, file: $file, outputName: $outputName) {
    ${MODEL_FIELDS}
  }
}`;

interface ModelOut {
  id: string;
  datasetId: string;
  name: string;
  version: number;
  sizeBytes: number;
  sha256: string;
  inputName: string;
  outputName: string;
  outputKind: string;
  embeddingOutputName: string | null;
  embeddingDim: number | null;
}

function dense(inDim: number, outDim: number, seed: number, activation?: 'relu'): DenseLayer {
  const weights = Float32Array.from({ length: inDim * outDim }, (_, i) => Math.sin(i + seed) * 0.1);
  return { inDim, outDim, activation, weights, bias: new Float32Array(outDim) };
}

/** A classifier of 64 features into 10 classes, giving probabilities and an 8-wide embedding. */
function onnxModel(
  opts: { featureDim?: number; classCount?: number; hidden?: number; seed?: number } & Partial<
    Pick<FeedForwardSpec, 'outputs'>
  > = {},
): Buffer {
  const { featureDim = 64, classCount = 10, hidden = 8, seed = 0 } = opts;
  return Buffer.from(
    buildFeedForwardOnnx({
      inputDim: featureDim,
      layers: [dense(featureDim, hidden, seed, 'relu'), dense(hidden, classCount, seed)],
      outputs: opts.outputs ?? { probabilities: 'probabilities', embedding: 'embedding' },
    }),
  );
}

function nanModel(): Buffer {
  const output = dense(8, 10, 0);
  output.weights[5] = NaN;
  return Buffer.from(
    buildFeedForwardOnnx({
      inputDim: 64,
      layers: [dense(64, 8, 0, 'relu'), output],
      outputs: { probabilities: 'probabilities' },
    }),
  );
}

function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

async function createDataset(t: TestServer, name: string): Promise<string> {
  const { createDataset } = await t.ok(
    'mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }',
    { input: { name, classes: DIGIT_CLASSES, featureDim: 64 } },
  );
  return createDataset.id;
}

async function countModels(t: TestServer, datasetId: string): Promise<number> {
  const [row] = await t.sql('SELECT count(*)::int AS n FROM model WHERE dataset_id = $1', [
    datasetId,
  ]);
  return row.n;
}

/** Sends a GraphQL multipart request (graphql-multipart-request-spec) with one file. */
async function upload(
  t: TestServer,
  query: string,
  variables: Record<string, unknown>,
  file: Buffer,
  headers: Record<string, string> = { 'apollo-require-preflight': 'true' },
): Promise<GqlResponse> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: { ...variables, file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([file], { type: 'application/octet-stream' }), 'model.onnx');
  const res = await fetch(t.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.adminKey}`, ...headers },
    body: form,
  });
  const text = await res.text();
  let body: Omit<GqlResponse, 'status'>;
  try {
    body = JSON.parse(text);
  } catch {
    body = { errors: [{ message: text }] };
  }
  return { status: res.status, ...body };
}

/**
 * Sends the same multipart request as {@link upload}, but the file's bytes only after a pause
 * and in small pieces, as over a slow network: the server is already reading the file when it
 * reaches the size limit.
 */
async function slowUpload(
  t: TestServer,
  query: string,
  variables: Record<string, unknown>,
  file: Buffer,
): Promise<GqlResponse> {
  const boundary = `quarry-${crypto.randomBytes(8).toString('hex')}`;
  const field = (name: string, value: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const head = Buffer.from(
    field('operations', JSON.stringify({ query, variables: { ...variables, file: null } })) +
      field('map', JSON.stringify({ 0: ['variables.file'] })) +
      `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="model.onnx"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(head);
      await pause(200);
      for (let at = 0; at < file.length; at += 1024) {
        controller.enqueue(file.subarray(at, at + 1024));
        await pause(20);
      }
      controller.enqueue(tail);
      controller.close();
    },
  });
  const res = await fetch(t.url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${t.adminKey}`,
      'apollo-require-preflight': 'true',
      'content-type': `multipart/form-data; boundary=${boundary}`,
    },
    body,
    duplex: 'half',
  } as RequestInit);
  return { status: res.status, ...((await res.json()) as Omit<GqlResponse, 'status'>) };
}

/** The error message a user sees: a reason in words, not a stack trace. */
function expectReadableMessage(res: GqlResponse): void {
  const message = res.errors![0].message;
  expect(message).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+/);
  expect(res.errors![0].extensions).not.toHaveProperty('stacktrace');
}

describeEachDb('models', (t) => {
  describe('registering models', () => {
    let d: string;
    const registered: ModelOut[] = [];
    const first = onnxModel({ seed: 1 });
    const second = onnxModel({ seed: 2 });
    const uploaded = onnxModel({ seed: 3 });

    beforeAll(async () => {
      d = await createDataset(t(), 'digits');
      // The check runs the model on stored items when there are some.
      const digits = loadDigits();
      await t().ok(
        `mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }`,
        {
          d,
          items: digits.features
            .slice(0, 20)
            .map((f, i) => ({ externalId: `d${i}`, featuresBase64: f32base64(f) })),
        },
      );
    });

    it('registers a model sent as base64 as version 1, and the next one as version 2', async () => {
      for (const [name, bytes] of [
        ['first', first],
        ['second', second],
      ] as const) {
        const { registerModel } = await t().ok(REGISTER, {
          d,
          name,
          onnxBase64: bytes.toString('base64'),
        });
        registered.push(registerModel);
      }

      expect(registered.map((m) => [m.name, m.version])).toEqual([
        ['first', 1],
        ['second', 2],
      ]);
      expect(registered[0]).toMatchObject({
        datasetId: d,
        sizeBytes: first.length,
        sha256: sha256(first),
        inputName: 'features',
        outputName: 'probabilities',
        outputKind: 'PROBABILITIES',
        embeddingOutputName: 'embedding',
        embeddingDim: 8,
      });
      expect(registered[1].sha256).toBe(sha256(second));
      expect(registered[1].sha256).not.toBe(registered[0].sha256);
      const rows = await t().sql(
        'SELECT version, onnx FROM model WHERE dataset_id = $1 ORDER BY version',
        [d],
      );
      expect(
        rows.map((r) => [r.version, Buffer.from(r.onnx).equals(r.version === 1 ? first : second)]),
      ).toEqual([
        [1, true],
        [2, true],
      ]);
    });

    it("lists a dataset's models oldest first, and reads one by id", async () => {
      const { models } = await t().ok(
        `query($d: ID!) { models(datasetId: $d) { nodes { ${MODEL_FIELDS} } } }`,
        {
          d,
        },
      );
      expect(
        models.nodes.map((m: ModelOut) => [
          m.id,
          m.version,
          m.sha256,
          m.outputKind,
          m.embeddingDim,
        ]),
      ).toEqual(registered.map((m) => [m.id, m.version, m.sha256, 'PROBABILITIES', 8]));

      const { model } = await t().ok(`query($id: ID!) { model(id: $id) { ${MODEL_FIELDS} } }`, {
        id: registered[1].id,
      });
      expect(model).toEqual(registered[1]);
    });

    it('registers a model sent as a multipart file upload as the next version', async () => {
      const before = await countModels(t(), d);
      const res = await upload(t(), REGISTER, { d, name: 'uploaded' }, uploaded);

      expect(res.errors).toBeUndefined();
      expect(res.data.registerModel).toMatchObject({
        name: 'uploaded',
        version: before + 1,
        sizeBytes: uploaded.length,
        sha256: sha256(uploaded),
        outputKind: 'PROBABILITIES',
        embeddingDim: 8,
      });
      const [row] = await t().sql('SELECT onnx FROM model WHERE id = $1', [
        res.data.registerModel.id,
      ]);
      expect(Buffer.from(row.onnx).equals(uploaded)).toBe(true);
    });

    it('refuses a multipart upload without the preflight header (CSRF protection) and stores nothing', async () => {
      const before = await countModels(t(), d);
      const res = await upload(t(), REGISTER, { d, name: 'csrf' }, uploaded, {});
      expect(res.status).toBe(400);
      expect(await countModels(t(), d)).toBe(before);
    });

    it('registers a model whose output is named logits with output kind LOGITS', async () => {
      const logits = onnxModel({ outputs: { logits: 'logits' } });
      const { registerModel } = await t().ok(REGISTER, {
        d,
        name: 'logits',
        onnxBase64: logits.toString('base64'),
      });
      expect(registerModel).toMatchObject({
        outputName: 'logits',
        outputKind: 'LOGITS',
        embeddingOutputName: null,
        embeddingDim: null,
        sha256: sha256(logits),
      });
    });

    it('takes the class-score output the caller names', async () => {
      const scores = onnxModel({ outputs: { probabilities: 'p', logits: 'logits' } });
      const { registerModel } = await t().ok(REGISTER, {
        d,
        name: 'named',
        onnxBase64: scores.toString('base64'),
        outputName: 'logits',
      });
      expect(registerModel).toMatchObject({ outputName: 'logits', outputKind: 'LOGITS' });
    });

    it('numbers versions without gaps or repeats when models are registered at the same time', async () => {
      const fresh = await createDataset(t(), 'parallel');
      const results = await Promise.all(
        [1, 2, 3].map((seed) =>
          t().gql(REGISTER, {
            d: fresh,
            name: `p${seed}`,
            onnxBase64: onnxModel({ seed }).toString('base64'),
          }),
        ),
      );
      expect(results.map((r) => r.errors)).toEqual([undefined, undefined, undefined]);
      expect(results.map((r) => r.data.registerModel.version).sort()).toEqual([1, 2, 3]);
    });
  });

  describe('refused models', () => {
    let d: string;

    beforeAll(async () => {
      d = await createDataset(t(), 'refusals');
    });

    // Each case: what is wrong, the variables (besides d and name), a part of the message.
    const cases: [string, () => Record<string, unknown>, RegExp][] = [
      [
        'bytes that are not a model',
        () => ({ onnxBase64: crypto.randomBytes(2048).toString('base64') }),
        /could not load the model/,
      ],
      [
        'a model taking 63 features for a dataset of 64',
        () => ({ onnxBase64: onnxModel({ featureDim: 63 }).toString('base64') }),
        /takes 63 features per row, but the dataset has 64/,
      ],
      [
        'a model giving 3 classes for a dataset of 10',
        () => ({ onnxBase64: onnxModel({ classCount: 3 }).toString('base64') }),
        /gives 3 classes per row, but the dataset has 10 classes/,
      ],
      [
        'a model whose output is NaN',
        () => ({ onnxBase64: nanModel().toString('base64') }),
        /non-finite values \(NaN or Infinity\)/,
      ],
      ['invalid base64', () => ({ onnxBase64: 'not base64!' }), /not valid base64/],
      ['an empty file', () => ({ onnxBase64: '' }), /empty/],
      ['no model at all', () => ({}), /exactly one of onnxBase64 and file/],
      [
        'an empty name',
        () => ({ name: '  ', onnxBase64: onnxModel().toString('base64') }),
        /name must be/,
      ],
    ];

    it.each(cases)(
      'refuses %s with BAD_USER_INPUT and a reason, and stores nothing',
      async (_what, variables, reason) => {
        const res = await t().gql(REGISTER, { d, name: 'refused', ...variables() });

        expect(codeOf(res)).toBe('BAD_USER_INPUT');
        expect(res.errors![0].message).toMatch(reason);
        expectReadableMessage(res);
        expect(await countModels(t(), d)).toBe(0);
      },
    );

    it('refuses a model sent both as base64 and as a file, and stores nothing', async () => {
      const bytes = onnxModel();
      const res = await upload(
        t(),
        REGISTER,
        { d, name: 'both', onnxBase64: bytes.toString('base64') },
        bytes,
      );
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0].message).toMatch(/exactly one of onnxBase64 and file/);
      expect(await countModels(t(), d)).toBe(0);
    });

    it('refuses an uploaded file that is not a model, and stores nothing', async () => {
      const res = await upload(t(), REGISTER, { d, name: 'junk' }, crypto.randomBytes(2048));
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0].message).toMatch(/could not load the model/);
      expectReadableMessage(res);
      expect(await countModels(t(), d)).toBe(0);
    });

    it('answers NOT_FOUND for an unknown dataset and FORBIDDEN for an annotator key', async () => {
      const onnxBase64 = onnxModel().toString('base64');
      const missing = await t().gql(REGISTER, {
        d: '00000000-0000-4000-8000-000000000000',
        name: 'x',
        onnxBase64,
      });
      expect(codeOf(missing)).toBe('NOT_FOUND');
      const annotator = await t().createKey(ApiKeyRole.ANNOTATOR);
      const forbidden = await t().gql(REGISTER, { d, name: 'x', onnxBase64 }, annotator);
      expect(codeOf(forbidden)).toBe('FORBIDDEN');
      expect(await countModels(t(), d)).toBe(0);
      const unknown = await t().gql(
        'query { model(id: "00000000-0000-4000-8000-000000000000") { id } }',
      );
      expect(codeOf(unknown)).toBe('NOT_FOUND');
    });
  });
});

describeEachDb(
  'models over the size cap',
  (t) => {
    let d: string;
    // About 2.6 kB and 9 kB: one under the 4096-byte cap, one over it.
    const small = onnxModel({ hidden: 8 });
    const large = onnxModel({ hidden: 32 });

    beforeAll(async () => {
      d = await createDataset(t(), 'capped');
    });

    it('accepts a model under the cap', async () => {
      expect(small.length).toBeLessThan(4096);
      const { registerModel } = await t().ok(REGISTER, {
        d,
        name: 'small',
        onnxBase64: small.toString('base64'),
      });
      expect(registerModel.sha256).toBe(sha256(small));
      const [row] = await t().sql('SELECT size_bytes FROM model WHERE id = $1', [registerModel.id]);
      expect(row.size_bytes).toBe(small.length);
    });

    it('refuses a model over the cap sent as base64 with PAYLOAD_TOO_LARGE, storing nothing', async () => {
      expect(large.length).toBeGreaterThan(4096);
      const before = await countModels(t(), d);
      const res = await t().gql(REGISTER, {
        d,
        name: 'large',
        onnxBase64: large.toString('base64'),
      });
      expect(codeOf(res)).toBe('PAYLOAD_TOO_LARGE');
      expect(res.errors![0].message).toContain('4096');
      expect(await countModels(t(), d)).toBe(before);
    });

    it('refuses a model over the cap sent as a file with PAYLOAD_TOO_LARGE, storing nothing', async () => {
      const before = await countModels(t(), d);
      const res = await upload(t(), REGISTER, { d, name: 'large' }, large);
      expect(codeOf(res)).toBe('PAYLOAD_TOO_LARGE');
      expect(res.errors![0].message).toContain('4096');
      expect(await countModels(t(), d)).toBe(before);
    });

    it('refuses a model over the cap uploaded slowly with PAYLOAD_TOO_LARGE, storing nothing', async () => {
      const before = await countModels(t(), d);
      const res = await slowUpload(t(), REGISTER, { d, name: 'large' }, large);
      expect(codeOf(res)).toBe('PAYLOAD_TOO_LARGE');
      expect(res.errors![0].message).toContain('4096');
      expect(await countModels(t(), d)).toBe(before);
    });

    it('accepts a model under the cap uploaded slowly', async () => {
      const before = await countModels(t(), d);
      const res = await slowUpload(t(), REGISTER, { d, name: 'small-slow' }, small);
      expect(res.errors).toBeUndefined();
      expect(res.data.registerModel).toMatchObject({ version: before + 1, sha256: sha256(small) });
      expect(await countModels(t(), d)).toBe(before + 1);
    });
  },
  { maxModelBytes: 4096 },
);

const EXACT = onnxModel({ hidden: 8, seed: 3 });

describeEachDb(
  'a model of exactly the size cap',
  (t) => {
    it('is accepted as a file upload and as line-wrapped base64', async () => {
      const d = await createDataset(t(), 'exact');
      const viaUpload = await upload(t(), REGISTER, { d, name: 'exact-upload' }, EXACT);
      expect(viaUpload.errors).toBeUndefined();
      expect(viaUpload.data.registerModel.sizeBytes).toBe(EXACT.length);
      // As the `base64` command writes it: 76 characters a line.
      const wrapped = EXACT.toString('base64').replace(/.{76}/g, '$&\n');
      const { registerModel } = await t().ok(REGISTER, {
        d,
        name: 'exact-b64',
        onnxBase64: wrapped,
      });
      expect(registerModel.sha256).toBe(sha256(EXACT));
    });
  },
  { maxModelBytes: EXACT.length },
);
