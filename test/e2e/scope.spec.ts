import crypto from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ApiKeyRole } from '../../src/entities';
import { testModel } from '../helpers/models';
import { CLAIM, CLASSES, openRound, queueDataset } from '../helpers/queues';
import { describeEachDb, type GqlResponse, type TestServer } from '../helpers/server';

/** The ids of one dataset's rows, of every kind an operation takes. */
interface Ids {
  dataset: string;
  item: string;
  model: string;
  round: string;
  query: string;
  token: string;
  simulation: string;
  training: string;
  autoLabel: string;
  webhook: string;
}

/** The kinds of id, each with a random one that names nothing. */
const MISSING: Record<keyof Ids, () => string> = {
  dataset: () => crypto.randomUUID(),
  item: () => String(900_000_000 + crypto.randomInt(1_000_000)),
  model: () => crypto.randomUUID(),
  round: () => crypto.randomUUID(),
  query: () => String(900_000_000 + crypto.randomInt(1_000_000)),
  token: () => crypto.randomUUID(),
  simulation: () => crypto.randomUUID(),
  training: () => crypto.randomUUID(),
  autoLabel: () => crypto.randomUUID(),
  webhook: () => crypto.randomUUID(),
};

const ITEM = { externalId: 'scope-new', features: [1, 2, 3, 4] };
const POLICY = { code: 'fixed-threshold', params: { threshold: 0.5 } };

/** Every query and mutation that takes an id, with the id in each place it may go. */
const CASES = [
  ['dataset', 'dataset', 'query($id: ID!) { dataset(id: $id) { id } }', (id: string) => ({ id })],
  ['item', 'item', 'query($id: ID!) { item(id: $id) { id } }', (id: string) => ({ id })],
  ['model', 'model', 'query($id: ID!) { model(id: $id) { id } }', (id: string) => ({ id })],
  ['round', 'round', 'query($id: ID!) { round(id: $id) { id } }', (id: string) => ({ id })],
  [
    'simulation',
    'simulation',
    'query($id: ID!) { simulation(id: $id) { id } }',
    (id: string) => ({ id }),
  ],
  [
    'trainingRun',
    'training',
    'query($id: ID!) { trainingRun(id: $id) { id } }',
    (id: string) => ({ id }),
  ],
  [
    'autoLabelRun',
    'autoLabel',
    'query($id: ID!) { autoLabelRun(id: $id) { id } }',
    (id: string) => ({ id }),
  ],
  ...(
    [
      ['annotatorAgreement', '{ annotatorId }'],
      ['autoLabelRuns', '{ nodes { id } }'],
      ['items', '{ edges { node { id } } }'],
      ['labelQueue', '{ edges { node { id } } }'],
      ['labellingStats', '{ datasetId }'],
      ['labels', '{ edges { node { id } } }'],
      ['learningCurve', '{ humanLabels }'],
      ['models', '{ nodes { id } }'],
      ['rounds', '{ nodes { id } }'],
      ['simulations', '{ nodes { id } }'],
      ['streamDecisions', '{ edges { node { id } } }'],
      ['streams', '{ nodes { name } }'],
      ['trainingRuns', '{ nodes { id } }'],
      ['webhooks', '{ id }'],
    ] as const
  ).map(([field, selection]) => [
    field,
    'dataset',
    `query($id: ID!) { ${field}(datasetId: $id) ${selection} }`,
    (id: string) => ({ id }),
  ]),
  [
    'webhookDeliveries',
    'webhook',
    'query($id: ID!) { webhookDeliveries(webhookId: $id) { nodes { id } } }',
    (id: string) => ({ id }),
  ],
  [
    'autoLabel (datasetId)',
    'dataset',
    'mutation($i: AutoLabelInput!) { autoLabel(input: $i) { id } }',
    (id: string, mine: Ids) => ({
      i: { datasetId: id, modelId: mine.model, threshold: 0.9, auditRate: 0 },
    }),
  ],
  [
    'autoLabel (modelId)',
    'model',
    'mutation($i: AutoLabelInput!) { autoLabel(input: $i) { id } }',
    (id: string, mine: Ids) => ({
      i: { datasetId: mine.dataset, modelId: id, threshold: 0.9, auditRate: 0 },
    }),
  ],
  [
    'cancelRound',
    'round',
    'mutation($id: ID!) { cancelRound(id: $id) { id } }',
    (id: string) => ({ id }),
  ],
  [
    'changeAnswer',
    'token',
    'mutation($id: String!) { changeAnswer(claimToken: $id, value: "cat") { value } }',
    (id: string) => ({ id }),
  ],
  [
    'claimQueries',
    'dataset',
    'mutation($id: ID!) { claimQueries(datasetId: $id) { token } }',
    (id: string) => ({ id }),
  ],
  [
    'createWebhook',
    'dataset',
    'mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { secret } }',
    (id: string) => ({ i: { datasetId: id, url: 'http://127.0.0.1:9/x', events: ['PING'] } }),
  ],
  [
    'deleteWebhook',
    'webhook',
    'mutation($id: ID!) { deleteWebhook(id: $id) { id } }',
    (id: string) => ({ id }),
  ],
  [
    'testWebhook',
    'webhook',
    'mutation($id: ID!) { testWebhook(id: $id) { id } }',
    (id: string) => ({ id }),
  ],
  [
    'drawValidationSample',
    'dataset',
    'mutation($i: DrawValidationSampleInput!) { drawValidationSample(input: $i) { roundId } }',
    (id: string) => ({ i: { datasetId: id, size: 1 } }),
  ],
  [
    'importItems',
    'dataset',
    'mutation($id: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $id, items: $items) { importedCount } }',
    (id: string) => ({ id, items: [ITEM] }),
  ],
  [
    'labelItems (datasetId)',
    'dataset',
    'mutation($id: ID!) { labelItems(datasetId: $id, labels: [{ externalId: "scope-mine-0", value: "cat" }]) { replayed } }',
    (id: string) => ({ id }),
  ],
  [
    'labelItems (itemId)',
    'item',
    'mutation($d: ID!, $id: ID!) { labelItems(datasetId: $d, labels: [{ itemId: $id, value: "cat" }]) { replayed } }',
    (id: string, mine: Ids) => ({ d: mine.dataset, id }),
  ],
  [
    'registerModel',
    'dataset',
    'mutation($id: ID!, $b: String!) { registerModel(datasetId: $id, name: "m2", onnxBase64: $b) { id } }',
    (id: string) => ({ id, b: MODEL_BASE64 }),
  ],
  [
    'releaseQuery',
    'token',
    'mutation($id: String!) { releaseQuery(claimToken: $id) { id } }',
    (id: string) => ({ id }),
  ],
  [
    'renewLease',
    'token',
    'mutation($id: String!) { renewLease(claimToken: $id) { token } }',
    (id: string) => ({ id }),
  ],
  [
    'skipQuery',
    'token',
    'mutation($id: String!) { skipQuery(claimToken: $id) { id } }',
    (id: string) => ({ id }),
  ],
  [
    'submitLabel (claimToken)',
    'token',
    'mutation($q: ID!, $id: String!) { submitLabel(queryId: $q, claimToken: $id, value: "cat") { value } }',
    (id: string, mine: Ids) => ({ q: mine.query, id }),
  ],
  [
    'submitLabel (queryId)',
    'query',
    'mutation($id: ID!, $t: String!) { submitLabel(queryId: $id, claimToken: $t, value: "cat") { value } }',
    (id: string, mine: Ids) => ({ id, t: mine.token }),
  ],
  [
    'resolveReview',
    'query',
    'mutation($id: ID!) { resolveReview(queryId: $id, value: "cat") { id } }',
    (id: string) => ({ id }),
  ],
  [
    'revokeAutoLabels',
    'autoLabel',
    'mutation($id: ID!) { revokeAutoLabels(runId: $id) { id } }',
    (id: string) => ({ id }),
  ],
  [
    'simulate',
    'dataset',
    'mutation($i: SimulateInput!) { simulate(input: $i) { id } }',
    (id: string) => ({ i: { datasetId: id, strategies: [{ strategy: 'random' }] } }),
  ],
  [
    'startRound (datasetId)',
    'dataset',
    'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }',
    (id: string) => ({ i: { datasetId: id, strategy: 'random', size: 1 } }),
  ],
  [
    'startRound (modelIds)',
    'model',
    'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }',
    (id: string, mine: Ids) => ({
      i: { datasetId: mine.dataset, strategy: 'random', size: 1, modelIds: [id] },
    }),
  ],
  [
    'streamItems (datasetId)',
    'dataset',
    'mutation($id: ID!, $m: ID!, $items: [ImportItemInput!]!, $p: StreamPolicyInput!) { streamItems(datasetId: $id, modelId: $m, items: $items, policy: $p) { queriedCount } }',
    (id: string, mine: Ids) => ({ id, m: mine.model, items: [ITEM], p: POLICY }),
  ],
  [
    'streamItems (modelId)',
    'model',
    'mutation($d: ID!, $id: ID!, $items: [ImportItemInput!]!, $p: StreamPolicyInput!) { streamItems(datasetId: $d, modelId: $id, items: $items, policy: $p) { queriedCount } }',
    (id: string, mine: Ids) => ({ d: mine.dataset, id, items: [ITEM], p: POLICY }),
  ],
  [
    'synthesizeItems',
    'dataset',
    'mutation($id: ID!) { synthesizeItems(datasetId: $id, method: "gaussian", count: 1) { items { id } } }',
    (id: string) => ({ id }),
  ],
  [
    'trainModel',
    'dataset',
    'mutation($i: TrainModelInput!) { trainModel(input: $i) { id } }',
    (id: string) => ({ i: { datasetId: id } }),
  ],
  [
    'updateDataset',
    'dataset',
    'mutation($id: ID!) { updateDataset(id: $id, input: { description: "x" }) { id } }',
    (id: string) => ({ id }),
  ],
] as [string, keyof Ids, string, (id: string, mine: Ids) => Record<string, unknown>][];

const MODEL_BASE64 = testModel({ featureDim: 4, classes: CLASSES.length }).toString('base64');

/**
 * What an id nobody can see answers: a claim token the CONFLICT of a claim that is no longer
 * valid, an id inside another dataset's input (a model to score with, an item to label) the
 * BAD_USER_INPUT naming that field, any other id NOT_FOUND.
 */
function expectedCode(name: string, kind: keyof Ids): string {
  if (kind === 'token') return 'CONFLICT';
  if (/\((modelId|modelIds|itemId)\)$/.test(name)) return 'BAD_USER_INPUT';
  return 'NOT_FOUND';
}

/** The answer with the id replaced by a placeholder: what must not differ between the two. */
function shape(res: GqlResponse, id: string): unknown {
  if (!res.errors) return { data: res.data };
  return res.errors.map((e) => ({
    code: e.extensions?.code,
    message: e.message.split(id).join('<id>'),
    problems: JSON.parse(
      JSON.stringify(e.extensions?.problems ?? null)
        .split(id)
        .join('<id>'),
    ),
  }));
}

/** Every subscription that takes an id. */
const SUBSCRIPTIONS: [string, keyof Ids, string][] = [
  ['queueChanged', 'dataset', 'subscription($id: ID!) { queueChanged(datasetId: $id) { kind } }'],
  [
    'queueChanged (snapshot)',
    'dataset',
    'subscription($id: ID!) { queueChanged(datasetId: $id, snapshot: true) { kind } }',
  ],
  [
    'learningStabilised',
    'dataset',
    'subscription($id: ID!) { learningStabilised(datasetId: $id) { modelId } }',
  ],
  ['roundProgress', 'round', 'subscription($id: ID!) { roundProgress(roundId: $id) { status } }'],
];

type Errors = NonNullable<GqlResponse['errors']>;

/** The errors a subscription ends with (it must end with some, and deliver nothing). */
async function subscriptionErrors(
  httpUrl: string,
  key: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<Errors> {
  const client = createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
  });
  try {
    return await new Promise<Errors>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the subscription did not end')), 10_000);
      const done = (errors: Errors) => {
        clearTimeout(timer);
        resolve(errors);
      };
      client.subscribe(
        { query, variables },
        {
          next: (v) =>
            v.errors ? done(v.errors as Errors) : reject(new Error('an event was delivered')),
          error: (e) => (Array.isArray(e) ? done(e as Errors) : reject(e)),
          complete: () => undefined,
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

/** A dataset with a row of every kind, made with an unscoped key. */
async function datasetWithEverything(t: TestServer, name: string): Promise<Ids> {
  const dataset = await queueDataset(t, name, { items: 12 });
  const { registerModel } = await t.ok(
    'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id } }',
    { d: dataset, b: MODEL_BASE64 },
  );
  const round = await openRound(t, dataset, 4);
  const { claimQueries } = await t.ok(CLAIM, { d: dataset, n: 1 });
  const [{ id: item }] = await t.sql(
    'SELECT id::text AS id FROM item WHERE dataset_id = $1 ORDER BY id LIMIT 1',
    [dataset],
  );
  const task = async (kind: string) =>
    (
      await t.sql(
        `INSERT INTO task (dataset_id, kind, status, params) VALUES ($1, $2, 'SUCCEEDED', '{}')
         RETURNING id::text AS id`,
        [dataset, kind],
      )
    )[0].id as string;
  const { createWebhook } = await t.ok(
    'mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id } } }',
    { i: { datasetId: dataset, url: 'http://127.0.0.1:9/x', events: ['ROUND_OPENED'] } },
  );
  return {
    dataset,
    item,
    model: registerModel.id,
    round,
    query: claimQueries[0].query.id,
    token: claimQueries[0].token,
    simulation: await task('SIMULATE'),
    training: await task('TRAIN'),
    autoLabel: await task('AUTO_LABEL'),
    webhook: createWebhook.webhook.id,
  };
}

/** Row counts of every table a mutation here could write. */
async function rowCounts(t: TestServer): Promise<Record<string, number>> {
  const tables = ['item', 'label', 'model', 'round', 'label_query', 'task', 'webhook', 'stream'];
  const counts: Record<string, number> = {};
  for (const table of tables) {
    counts[table] = (await t.sql(`SELECT count(*)::int AS n FROM ${table}`))[0].n;
  }
  return counts;
}

describeEachDb('ids a key may not see', (t) => {
  let mine: Ids;
  let other: Ids;
  let scoped: string;

  beforeAll(async () => {
    mine = await datasetWithEverything(t(), 'scope-mine');
    other = await datasetWithEverything(t(), 'scope-other');
    // SERVICE holds every permission these operations need: only the scope can refuse.
    scoped = await t().createKey(ApiKeyRole.SERVICE, [mine.dataset]);
  }, 120_000);

  it.each(CASES.map(([name, kind, query, vars]) => [name, kind, query, vars] as const))(
    '%s: an id of another dataset (%s) answers exactly as one that does not exist',
    async (name, kind, query, vars) => {
      const before = await rowCounts(t());
      const missingId = MISSING[kind]();
      const missing = await t().gql(query, vars(missingId, mine), scoped);
      const outside = await t().gql(query, vars(other[kind], mine), scoped);
      expect(missing.errors).toBeDefined();
      expect(missing.errors![0].extensions!.code).toBe(expectedCode(name, kind));
      // The refusal is about the id (a claim token's CONFLICT names no token).
      if (kind !== 'token') expect(JSON.stringify(missing.errors)).toContain(missingId);
      expect(shape(outside, other[kind])).toEqual(shape(missing, missingId));
      expect(outside.status).toBe(missing.status);
      // Nothing names the other dataset, nor any of its rows but the id that was sent.
      const told = JSON.stringify(
        outside.errors!.map((e) => [e.message, e.extensions?.code, e.extensions?.problems]),
      );
      for (const [k, id] of Object.entries(other)) {
        if (k !== kind) expect(told).not.toMatch(new RegExp(`(?<![\\w-])${id}(?![\\w-])`));
      }
      expect(await rowCounts(t())).toEqual(before);
    },
  );

  it.each(SUBSCRIPTIONS)(
    'subscription %s: an id of another dataset (%s) ends it exactly as one that does not exist',
    async (_name, kind, query) => {
      const missingId = MISSING[kind]();
      const missing = await subscriptionErrors(t().url, scoped, query, { id: missingId });
      const outside = await subscriptionErrors(t().url, scoped, query, { id: other[kind] });
      expect(missing[0].extensions?.code).toBe('NOT_FOUND');
      expect(shape({ status: 200, errors: outside }, other[kind])).toEqual(
        shape({ status: 200, errors: missing }, missingId),
      );
    },
  );

  it('answers the label export of another dataset exactly as that of a missing one (404)', async () => {
    const exportOf = async (id: string) => {
      const res = await fetch(
        `${t().url.replace(/\/graphql$/, '')}/export/labels?datasetId=${id}&format=jsonl`,
        { headers: { authorization: `Bearer ${scoped}` } },
      );
      return { status: res.status, ...((await res.json()) as Omit<GqlResponse, 'status'>) };
    };
    const missingId = MISSING.dataset();
    const missing = await exportOf(missingId);
    const outside = await exportOf(other.dataset);
    expect(missing.status).toBe(404);
    expect(outside.status).toBe(404);
    expect(shape(outside, other.dataset)).toEqual(shape(missing, missingId));
  });

  it('answers a dataset outside the scope NOT_FOUND, named as the caller named it', async () => {
    const res = await t().gql(
      'query($id: ID!) { dataset(id: $id) { id } }',
      { id: other.dataset },
      scoped,
    );
    expect(res.errors![0].extensions!.code).toBe('NOT_FOUND');
    expect(res.errors![0].message).toBe(`Dataset "${other.dataset}" does not exist.`);
  });

  it('keeps FORBIDDEN for what the role may not do, on a dataset the key sees', async () => {
    const annotator = await t().createKey(ApiKeyRole.ANNOTATOR, [mine.dataset]);
    const res = await t().gql(
      'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }',
      { i: { datasetId: mine.dataset, strategy: 'random', size: 1 } },
      annotator,
    );
    expect(res.errors![0].extensions!.code).toBe('FORBIDDEN');
  });
});
