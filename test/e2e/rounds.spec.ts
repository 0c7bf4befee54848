import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiKeyRole } from '../../src/entities';
import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';
import { testModel } from '../helpers/models';
import { waitFor } from '../helpers/wait-for';
import { withQueryList } from '../helpers/queues';

const START = `mutation($i: StartRoundInput!) { startRound(input: $i) { id status size strategy params seed } }`;
const ROUND = `query($id: ID!) { round(id: $id) {
  id status error attempts progress { scored total }
  queries(first: 1000) { edges { node { id rank score reason status item { id externalId } } } }
} }`;
const RUNNING = ['QUEUED', 'SCORING', 'SELECTING'];

async function createDataset(t: TestServer, name: string, labelBudget?: number): Promise<string> {
  const { createDataset } = await t.ok(
    'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
    {
      i: { name, classes: DIGIT_CLASSES, featureDim: 64, labelBudget },
    },
  );
  return createDataset.id;
}

/** Imports the digits; every 18th row arrives labelled (the seed set). */
async function importDigits(t: TestServer, d: string): Promise<void> {
  const digits = loadDigits();
  const items = digits.features.map((f, i) => ({
    externalId: `d${i}`,
    featuresBase64: f32base64(f),
    label: i % 18 === 0 ? digits.labels[i] : null,
  }));
  await t.ok(
    'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
    { d, items },
  );
}

async function register(t: TestServer, d: string, name: string, onnx: Buffer): Promise<string> {
  const { registerModel } = await t.ok(
    'mutation($d: ID!, $n: String!, $b: String!) { registerModel(datasetId: $d, name: $n, onnxBase64: $b) { id } }',
    { d, n: name, b: onnx.toString('base64') },
  );
  return registerModel.id;
}

/** Polls the round until it leaves the running states. */
async function settle(t: TestServer, id: string, timeoutMs = 60_000): Promise<any> {
  return waitFor(async () => withQueryList((await t.ok(ROUND, { id })).round), {
    until: (round) => !RUNNING.includes(round.status),
    timeoutMs,
    what: `round ${id} to leave ${RUNNING.join('/')}`,
  });
}

async function countRounds(t: TestServer): Promise<number> {
  const [row] = await t.sql('SELECT count(*)::int AS n FROM round');
  return row.n;
}

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-rounds-spec-'));
afterAll(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

describeEachDb(
  'rounds',
  (t) => {
    let d: string;
    let withEmbedding: string;
    let second: string;
    let noEmbedding: string;
    const openItems = new Set<string>();

    beforeAll(async () => {
      d = await createDataset(t(), 'digits');
      await importDigits(t(), d);
      withEmbedding = await register(t(), d, 'mlp-a', testModel({ seed: 1 }));
      second = await register(t(), d, 'mlp-b', testModel({ seed: 7 }));
      noEmbedding = await register(t(), d, 'mlp-c', testModel({ seed: 3, embedding: false }));
    });

    it('lists every built-in strategy with what it needs and its parameters with defaults', async () => {
      const { strategies } = await t().ok(
        '{ strategies { code description kind needs paramsSchema defaults } }',
      );
      const codes = strategies.map((s: { code: string }) => s.code);
      expect(codes).toEqual(
        expect.arrayContaining([
          'random',
          'least-confidence',
          'margin',
          'entropy',
          'vote-entropy',
          'kl-consensus',
          'k-center',
          'badge',
          'class-balanced',
          'cluster-margin',
        ]),
      );
      const byCode = Object.fromEntries(strategies.map((s: { code: string }) => [s.code, s]));
      expect(byCode['margin']).toMatchObject({ kind: 'POINTWISE', needs: ['PROBABILITIES'] });
      expect(byCode['k-center'].kind).toBe('BATCH');
      expect(byCode['k-center'].needs).toContain('EMBEDDINGS');
      expect(byCode['vote-entropy'].needs).toContain('COMMITTEE');
      expect(byCode['random'].defaults).toHaveProperty('seed');
      expect(byCode['badge'].paramsSchema.type).toBe('object');
    });

    const cases: [string, () => string[], boolean][] = [
      // strategy, models, whether scores fall with rank
      ['random', () => [], false],
      ['least-confidence', () => [withEmbedding], true],
      ['margin', () => [withEmbedding], true],
      ['entropy', () => [withEmbedding], true],
      ['vote-entropy', () => [withEmbedding, second], true],
      ['kl-consensus', () => [withEmbedding, second], true],
      ['k-center', () => [withEmbedding], true],
      ['badge', () => [withEmbedding], false],
      ['class-balanced', () => [withEmbedding], false],
      ['cluster-margin', () => [withEmbedding], false],
    ];

    it.each(cases)(
      'runs a %s round of 50 through GraphQL to OPEN with 50 fresh queries',
      async (strategy, models, ordered) => {
        const [{ n: poolBefore }] = await t().sql(
          `SELECT count(*)::int AS n FROM item i WHERE i.dataset_id = $1 AND i.split = 'POOL'
           AND NOT EXISTS (SELECT 1 FROM label l WHERE l.item_id = i.id AND l.superseded_at IS NULL)
           AND NOT EXISTS (SELECT 1 FROM label_query q WHERE q.item_id = i.id AND q.status = 'OPEN')`,
          [d],
        );
        const { startRound } = await t().ok(START, {
          i: { datasetId: d, strategy, size: 50, modelIds: models() },
        });
        expect(startRound.status).toBe('QUEUED');
        const round = await settle(t(), startRound.id);
        expect(round.error).toBeNull();
        expect(round.status).toBe('OPEN');
        expect(round.progress).toEqual({ scored: poolBefore, total: poolBefore });
        const queries = round.queries;
        expect(queries).toHaveLength(50);
        expect(queries.map((q: { rank: number }) => q.rank)).toEqual(
          Array.from({ length: 50 }, (_, i) => i + 1),
        );
        const ids = queries.map((q: { item: { id: string } }) => q.item.id);
        expect(new Set(ids).size).toBe(50);
        for (const id of ids) expect(openItems.has(id)).toBe(false);
        const labelled = await t().sql(
          'SELECT count(*)::int AS n FROM label WHERE item_id = ANY($1::bigint[]) AND superseded_at IS NULL',
          [ids],
        );
        expect(labelled[0].n).toBe(0);
        if (ordered) {
          for (let i = 1; i < queries.length; i++)
            expect(queries[i].score).toBeLessThanOrEqual(queries[i - 1].score);
        }
        expect(Object.keys(queries[0].reason).length).toBeGreaterThan(0);
        for (const id of ids) openItems.add(id);
      },
    );

    it('runs a round with a third-party strategy loaded from a module path', async () => {
      const { startRound } = await t().ok(START, {
        i: {
          datasetId: d,
          strategy: 'prefer-class',
          size: 10,
          modelIds: [withEmbedding],
          params: { classIndex: 3 },
        },
      });
      const round = await settle(t(), startRound.id);
      expect(round.status).toBe('OPEN');
      expect(round.queries).toHaveLength(10);
      const p = round.queries.map((q: { reason: { probability: number } }) => q.reason.probability);
      expect(p).toEqual([...p].sort((a: number, b: number) => b - a));
      await t().ok('mutation($id: ID!) { cancelRound(id: $id) { status } }', { id: startRound.id });
    });

    it('selects the full size even when the candidate pool is set smaller than it', async () => {
      const { startRound } = await t().ok(START, {
        i: {
          datasetId: d,
          strategy: 'class-balanced',
          size: 30,
          modelIds: [withEmbedding],
          params: { candidatePool: 10 },
        },
      });
      const round = await settle(t(), startRound.id);
      expect(round.status).toBe('OPEN');
      expect(round.queries).toHaveLength(30);
      await t().ok('mutation($id: ID!) { cancelRound(id: $id) { status } }', { id: startRound.id });
    });

    it('reproduces a random selection from the same seed', async () => {
      const ds2 = await createDataset(t(), 'digits-seeded');
      await importDigits(t(), ds2);
      const pick = async () => {
        const { startRound } = await t().ok(START, {
          i: { datasetId: ds2, strategy: 'random', size: 10, params: { seed: 42 } },
        });
        const round = await settle(t(), startRound.id);
        await t().ok('mutation($id: ID!) { cancelRound(id: $id) { status } }', {
          id: startRound.id,
        });
        return round.queries.map((q: { item: { externalId: string } }) => q.item.externalId);
      };
      const first = await pick();
      expect(await pick()).toEqual(first);
    });

    it("keeps each scored item's prediction as a pre-label", async () => {
      // Predictions are stored in the background and may trail the round's opening briefly.
      const items = await waitFor(
        async () =>
          (
            await t().ok(
              'query($d: ID!) { items(datasetId: $d, first: 3, filter: { labelled: false }) { edges { node { predictions { nodes { modelId value classIndex confidence } } } } } }',
              { d },
            )
          ).items,
        {
          until: (items) => items.edges[0].node.predictions.nodes.length > 0,
          timeoutMs: 10_000,
          intervalMs: 200,
          what: 'the first unlabelled item to have predictions',
        },
      );
      const predictions = items.edges[0].node.predictions.nodes;
      expect(predictions.length).toBeGreaterThan(0);
      expect(predictions.map((p: { modelId: string }) => p.modelId)).toContain(withEmbedding);
      for (const p of predictions) {
        expect(DIGIT_CLASSES).toContain(p.value);
        expect(p.confidence).toBeGreaterThan(0);
        expect(p.confidence).toBeLessThanOrEqual(1);
      }
    });

    const refusals: [string, () => Record<string, unknown>, string, string][] = [
      [
        'an unknown strategy',
        () => ({ strategy: 'nope', size: 5, modelIds: [withEmbedding] }),
        'BAD_USER_INPUT',
        'Unknown strategy',
      ],
      [
        'a parameter out of range',
        () => ({
          strategy: 'k-center',
          size: 5,
          modelIds: [withEmbedding],
          params: { candidatePool: -1 },
        }),
        'BAD_USER_INPUT',
        'params.candidatePool',
      ],
      [
        'an unknown parameter',
        () => ({ strategy: 'margin', size: 5, modelIds: [withEmbedding], params: { depth: 3 } }),
        'BAD_USER_INPUT',
        'params.depth',
      ],
      [
        'a size of zero',
        () => ({ strategy: 'margin', size: 0, modelIds: [withEmbedding] }),
        'BAD_USER_INPUT',
        'size',
      ],
      [
        'k-center with a model that has no embedding output',
        () => ({ strategy: 'k-center', size: 5, modelIds: [noEmbedding] }),
        'BAD_USER_INPUT',
        'embedding',
      ],
      [
        'a committee of one',
        () => ({ strategy: 'vote-entropy', size: 5, modelIds: [withEmbedding] }),
        'BAD_USER_INPUT',
        'two or more',
      ],
      [
        'margin without a model',
        () => ({ strategy: 'margin', size: 5, modelIds: [] }),
        'BAD_USER_INPUT',
        'model',
      ],
      [
        'a model of no dataset',
        () => ({ strategy: 'margin', size: 5, modelIds: [crypto.randomUUID()] }),
        'BAD_USER_INPUT',
        'no model',
      ],
    ];

    it.each(refusals)(
      'refuses %s with a coded error and creates nothing',
      async (_what, input, code, text) => {
        const before = await countRounds(t());
        const res = await t().gql(START, { i: { datasetId: d, ...input() } });
        expect(codeOf(res)).toBe(code);
        expect(res.errors![0].message).toContain(text);
        expect(await countRounds(t())).toBe(before);
      },
    );

    it('refuses a round beyond the remaining label budget with BUDGET_EXHAUSTED', async () => {
      const small = await createDataset(t(), 'budgeted', 30);
      await importDigits(t(), small);
      const { startRound } = await t().ok(START, {
        i: { datasetId: small, strategy: 'random', size: 20 },
      });
      const before = await countRounds(t());
      const res = await t().gql(START, { i: { datasetId: small, strategy: 'random', size: 20 } });
      expect(codeOf(res)).toBe('BUDGET_EXHAUSTED');
      expect(res.errors![0].message).toContain('10 of 30 remain');
      expect(await countRounds(t())).toBe(before);
      expect((await settle(t(), startRound.id)).status).toBe('OPEN');
    });

    it('ends FAILED with a readable message, and no queries, when the model fails at inference', async () => {
      const onnx = testModel({ seed: 11 });
      const broken = await register(t(), d, 'mlp-broken', onnx);
      // The workers load models from the cache directory: a damaged file fails at run time.
      const sha = crypto.createHash('sha256').update(onnx).digest('hex');
      fs.writeFileSync(path.join(cacheDir, `${sha}.onnx`), 'not a model');
      const { startRound } = await t().ok(START, {
        i: { datasetId: d, strategy: 'margin', size: 5, modelIds: [broken] },
      });
      const round = await settle(t(), startRound.id);
      expect(round.status).toBe('FAILED');
      expect(round.error).toMatch(/model/i);
      expect(round.error).not.toMatch(/\n\s+at /);
      expect(round.queries).toHaveLength(0);
    });

    it('ends FAILED with the error, and no queries, when a strategy throws', async () => {
      const { startRound } = await t().ok(START, {
        i: { datasetId: d, strategy: 'broken-plugin', size: 5, modelIds: [withEmbedding] },
      });
      const round = await settle(t(), startRound.id);
      expect(round.status).toBe('FAILED');
      expect(round.error).toContain('broken-plugin cannot score');
      expect(round.queries).toHaveLength(0);
    });

    it('answers NOT_FOUND for a round of a dataset outside the key', async () => {
      const { rounds } = await t().ok('query($d: ID!) { rounds(datasetId: $d) { nodes { id } } }', {
        d,
      });
      const other = await createDataset(t(), 'elsewhere');
      const key = await t().createKey(ApiKeyRole.SERVICE, [other]);
      const res = await t().gql(
        'query($id: ID!) { round(id: $id) { id } }',
        { id: rounds.nodes[0].id },
        key,
      );
      expect(codeOf(res)).toBe('NOT_FOUND');
      expect(res.errors![0].message).not.toContain(d);
    });

    it('cancels a running round: it stops and writes no queries', async () => {
      const { startRound } = await t().ok(START, {
        i: { datasetId: d, strategy: 'k-center', size: 20, modelIds: [withEmbedding] },
      });
      const { cancelRound } = await t().ok(
        'mutation($id: ID!) { cancelRound(id: $id) { status } }',
        { id: startRound.id },
      );
      expect(cancelRound.status).toBe('CANCELLED');
      await new Promise((r) => setTimeout(r, 1500));
      const round = withQueryList((await t().ok(ROUND, { id: startRound.id })).round);
      expect(round.status).toBe('CANCELLED');
      expect(round.queries.filter((q: { status: string }) => q.status === 'OPEN')).toHaveLength(0);
      const again = await t().gql('mutation($id: ID!) { cancelRound(id: $id) { status } }', {
        id: startRound.id,
      });
      expect(codeOf(again)).toBe('CONFLICT');
    });
  },
  {
    modelCacheDir: cacheDir,
    jobPollingSeconds: 1,
    roundChunkRows: 300,
    strategyModules: [path.resolve(__dirname, '../fixtures/plugins/prefer-class.js')],
  },
);
