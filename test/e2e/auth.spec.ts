import crypto from 'node:crypto';
import { ApiKeyRole } from '../../src/entities';
import { codeOf, describeEachDb, type GqlResponse, type TestServer } from '../helpers/server';

const VIEWER = '{ viewer { id name role datasetIds } }';
const CREATE_DATASET = `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }`;
const CREATE_KEY = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { secret apiKey { id name role datasetIds prefix createdAt revokedAt } }
}`;
const REVOKE_KEY = 'mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }';

/** Sends one operation with exactly the headers given (no key unless they carry one). */
async function post(
  t: TestServer,
  headers: Record<string, string>,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GqlResponse> {
  const res = await fetch(t.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as Omit<GqlResponse, 'status'>) };
}

async function count(t: TestServer, sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await t.sql(`SELECT count(*)::int AS n FROM ${sql}`, params);
  return row.n;
}

async function createDataset(t: TestServer, name: string): Promise<string> {
  const { createDataset } = await t.ok(CREATE_DATASET, {
    input: { name, classes: ['a', 'b'], featureDim: 2 },
  });
  return createDataset.id;
}

let serial = 0;
/** A name no earlier request of this file used. */
function fresh(prefix: string): string {
  return `${prefix}-${++serial}`;
}

describeEachDb('authentication and permissions', (t) => {
  describe('requests without a valid key', () => {
    let revokedKey: string;

    beforeAll(async () => {
      const { createApiKey } = await t().ok(CREATE_KEY, {
        input: { name: 'soon revoked', role: 'SERVICE' },
      });
      revokedKey = createApiKey.secret;
      await t().ok(REVOKE_KEY, { id: createApiKey.apiKey.id });
    });

    const cases: [string, () => Record<string, string>][] = [
      ['no key at all', () => ({})],
      ['an unknown key', () => ({ authorization: `Bearer qk_${'x'.repeat(43)}` })],
      ['a revoked key', () => ({ authorization: `Bearer ${revokedKey}` })],
      ['an Authorization header with another scheme', () => ({ authorization: 'Basic dTpw' })],
      ['an Authorization header with no key after Bearer', () => ({ authorization: 'Bearer ' })],
      ['a valid key without the Bearer scheme', () => ({ authorization: t().adminKey })],
      [
        'a valid key followed by more words',
        () => ({ authorization: `Bearer ${t().adminKey} extra` }),
      ],
      ['an unknown key in X-Api-Key', () => ({ 'x-api-key': 'qk_not-a-key' })],
    ];

    it.each(cases)(
      'refuses %s with HTTP 401 UNAUTHENTICATED, reading and writing nothing',
      async (_what, headers) => {
        const datasetsBefore = await count(t(), 'dataset');
        const name = fresh('unauthenticated');
        const write = await post(t(), headers(), CREATE_DATASET, {
          input: { name, classes: ['a', 'b'], featureDim: 2 },
        });
        expect(write.status).toBe(401);
        expect(codeOf(write)).toBe('UNAUTHENTICATED');
        expect(write.data ?? null).toBeNull();
        expect(await count(t(), 'dataset')).toBe(datasetsBefore);
        expect(await count(t(), 'dataset WHERE name = $1', [name])).toBe(0);

        const read = await post(
          t(),
          headers(),
          '{ datasets { nodes { id name } } apiKeys { nodes { id } } }',
        );
        expect(read.status).toBe(401);
        expect(codeOf(read)).toBe('UNAUTHENTICATED');
        expect(read.data ?? null).toBeNull();
      },
    );

    it('says how to send a key when none was sent', async () => {
      const res = await t().gql(VIEWER, {}, null);
      expect(res.status).toBe(401);
      expect(res.errors![0].message).toContain('Authorization: Bearer');
    });
  });

  describe('keys', () => {
    it('accepts the key in an X-Api-Key header as well', async () => {
      const res = await post(t(), { 'x-api-key': t().adminKey }, VIEWER);
      expect(res.status).toBe(200);
      expect(res.data.viewer.role).toBe('ADMIN');
    });

    it('tells each key its own role and dataset scope through viewer', async () => {
      const datasetId = await createDataset(t(), fresh('viewer-scope'));
      const roles: [ApiKeyRole, string[] | undefined][] = [
        [ApiKeyRole.ADMIN, undefined],
        [ApiKeyRole.SERVICE, undefined],
        [ApiKeyRole.SERVICE, [datasetId]],
        [ApiKeyRole.ANNOTATOR, [datasetId]],
      ];
      for (const [role, scope] of roles) {
        const key = await t().createKey(role, scope);
        const { viewer } = await t().ok(VIEWER, {}, key);
        expect(viewer).toMatchObject({ role, datasetIds: scope ?? null });
      }
    });

    it('shows a new key its secret once, and the secret works at once', async () => {
      const datasetId = await createDataset(t(), fresh('key-scope'));
      const { createApiKey } = await t().ok(CREATE_KEY, {
        input: { name: 'labelling tool', role: 'ANNOTATOR', datasetIds: [datasetId] },
      });
      const { secret, apiKey } = createApiKey;
      expect(secret).toMatch(/^qk_[A-Za-z0-9_-]{43}$/);
      expect(apiKey).toMatchObject({
        name: 'labelling tool',
        role: 'ANNOTATOR',
        datasetIds: [datasetId],
        prefix: secret.slice(0, apiKey.prefix.length),
        revokedAt: null,
      });
      expect(apiKey.prefix.length).toBeLessThan(secret.length / 2);

      const { viewer } = await t().ok(VIEWER, {}, secret);
      expect(viewer).toEqual({
        id: apiKey.id,
        name: 'labelling tool',
        role: 'ANNOTATOR',
        datasetIds: [datasetId],
      });
    });

    it('refuses a key scoped to datasets that do not exist, naming them', async () => {
      const datasetId = await createDataset(t(), fresh('known-scope'));
      const missing = '00000000-0000-4000-8000-000000000000';
      const res = await t().gql(CREATE_KEY, {
        input: { name: 'ghost scope', role: 'SERVICE', datasetIds: [datasetId, missing, 'nope'] },
      });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0].message).toBe(
        `datasetIds names datasets that do not exist: nope, ${missing}.`,
      );
    });

    it('never shows a secret or its hash again, and stores only the hash', async () => {
      const { createApiKey } = await t().ok(CREATE_KEY, {
        input: { name: 'listed', role: 'SERVICE' },
      });
      const { secret } = createApiKey;
      const hash = crypto.createHash('sha256').update(secret).digest('hex');

      const { __type } = await t().ok('{ __type(name: "ApiKey") { fields { name } } }');
      const fields: string[] = __type.fields.map((f: { name: string }) => f.name);
      expect(fields).toEqual(expect.arrayContaining(['id', 'name', 'role', 'prefix']));
      expect(fields.filter((f) => /secret|hash/i.test(f))).toEqual([]);

      const listing = await t().gql(
        `{ apiKeys { nodes { ${fields.join(' ')} } } viewer { ${fields.join(' ')} } }`,
      );
      expect(listing.errors).toBeUndefined();
      expect(listing.data.apiKeys.nodes.map((k: { id: string }) => k.id)).toContain(
        createApiKey.apiKey.id,
      );
      const shown = JSON.stringify(listing.data);
      expect(shown).not.toContain(secret);
      expect(shown).not.toContain(hash);

      const asked = await t().gql('{ apiKeys { nodes { id secret } } }');
      expect(codeOf(asked)).toBe('GRAPHQL_VALIDATION_FAILED');

      const [row] = await t().sql('SELECT * FROM api_key WHERE id = $1', [createApiKey.apiKey.id]);
      expect(row.secret_hash).toBe(hash);
      expect(JSON.stringify(row)).not.toContain(secret);
    });

    it('stops accepting a key the moment it is revoked, and lists it as revoked', async () => {
      const { createApiKey } = await t().ok(CREATE_KEY, {
        input: { name: 'to revoke', role: 'SERVICE' },
      });
      const { secret, apiKey } = createApiKey;
      expect((await t().ok(VIEWER, {}, secret)).viewer.id).toBe(apiKey.id);

      const { revokeApiKey } = await t().ok(REVOKE_KEY, { id: apiKey.id });
      expect(revokeApiKey.revokedAt).not.toBeNull();

      const datasetsBefore = await count(t(), 'dataset');
      const res = await t().gql(
        CREATE_DATASET,
        { input: { name: fresh('by-revoked'), classes: ['a', 'b'], featureDim: 2 } },
        secret,
      );
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe('UNAUTHENTICATED');
      expect(await count(t(), 'dataset')).toBe(datasetsBefore);

      const { apiKeys } = await t().ok('{ apiKeys(first: 1000) { nodes { id revokedAt } } }');
      expect(apiKeys.nodes.find((k: { id: string }) => k.id === apiKey.id).revokedAt).toBe(
        revokeApiKey.revokedAt,
      );
    });
  });

  describe('the role matrix', () => {
    type Role = 'ADMIN' | 'SERVICE' | 'SERVICE scoped to A' | 'ANNOTATOR scoped to A';
    const ROLES: Role[] = ['ADMIN', 'SERVICE', 'SERVICE scoped to A', 'ANNOTATOR scoped to A'];
    type Outcome = 'allowed' | 'FORBIDDEN' | 'NOT_FOUND';
    const Y: Outcome = 'allowed';
    const N: Outcome = 'FORBIDDEN';
    /** A dataset outside the key's scope looks missing (the role is checked first). */
    const X: Outcome = 'NOT_FOUND';

    const keys = {} as Record<Role, string>;
    let A: string;
    let B: string;

    beforeAll(async () => {
      A = await createDataset(t(), 'matrix A');
      B = await createDataset(t(), 'matrix B');
      for (const d of [A, B]) {
        await t().ok(
          'mutation($d: ID!) { importItems(datasetId: $d, items: [{ externalId: "seed", features: [1, 2] }]) { importedCount } }',
          { d },
        );
      }
      keys['ADMIN'] = await t().createKey(ApiKeyRole.ADMIN);
      keys['SERVICE'] = await t().createKey(ApiKeyRole.SERVICE);
      keys['SERVICE scoped to A'] = await t().createKey(ApiKeyRole.SERVICE, [A]);
      keys['ANNOTATOR scoped to A'] = await t().createKey(ApiKeyRole.ANNOTATOR, [A]);
    });

    interface Operation {
      /** The GraphQL operation and its variables (names and ids fresh on every call). */
      request: () => { query: string; variables: Record<string, unknown> };
      /** For writes: what the operation would change, read straight from the database. */
      state?: () => Promise<unknown>;
      /** The error an allowed request still gets because its input is bad on purpose. */
      allowedError?: string;
      /** Expected outcome for ADMIN, SERVICE, SERVICE scoped to A, ANNOTATOR scoped to A. */
      outcomes: [Outcome, Outcome, Outcome, Outcome];
    }

    const importInto = (d: () => string) => () => ({
      query: `mutation($d: ID!, $e: String!) { importItems(datasetId: $d, items: [{ externalId: $e, features: [0.5, 1] }]) { importedCount } }`,
      variables: { d: d(), e: fresh('item') },
    });
    const itemsOf = (d: () => string) => () => ({
      query: 'query($d: ID!) { items(datasetId: $d) { totalCount edges { node { externalId } } } }',
      variables: { d: d() },
    });
    const datasetById = (d: () => string) => () => ({
      query: 'query($id: ID!) { dataset(id: $id) { id name } }',
      variables: { id: d() },
    });

    const OPERATIONS: Record<string, Operation> = {
      datasets: {
        request: () => ({ query: '{ datasets { nodes { id } } }', variables: {} }),
        outcomes: [Y, Y, Y, Y],
      },
      'dataset(A)': { request: datasetById(() => A), outcomes: [Y, Y, Y, Y] },
      'dataset(B)': { request: datasetById(() => B), outcomes: [Y, Y, X, X] },
      createDataset: {
        request: () => ({
          query: CREATE_DATASET,
          variables: { input: { name: fresh('matrix new'), classes: ['a', 'b'], featureDim: 2 } },
        }),
        state: () => count(t(), 'dataset'),
        outcomes: [Y, Y, N, N],
      },
      'updateDataset(A)': {
        request: () => ({
          query:
            'mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { id } }',
          variables: {
            id: A,
            input: { description: fresh('described'), addClasses: [fresh('c')] },
          },
        }),
        state: () => t().sql('SELECT description, classes FROM dataset WHERE id = $1', [A]),
        outcomes: [Y, Y, Y, N],
      },
      'importItems(A)': {
        request: importInto(() => A),
        state: () => count(t(), 'item WHERE dataset_id = $1', [A]),
        outcomes: [Y, Y, Y, N],
      },
      'importItems(B)': {
        request: importInto(() => B),
        state: () => count(t(), 'item WHERE dataset_id = $1', [B]),
        outcomes: [Y, Y, X, N],
      },
      'items(A)': { request: itemsOf(() => A), outcomes: [Y, Y, Y, Y] },
      'items(B)': { request: itemsOf(() => B), outcomes: [Y, Y, X, X] },
      'labelItems(A)': {
        request: () => ({
          query:
            'mutation($d: ID!) { labelItems(datasetId: $d, labels: [{ externalId: "seed", value: "b" }]) { labels { id } } }',
          variables: { d: A },
        }),
        state: () => count(t(), 'label WHERE dataset_id = $1', [A]),
        outcomes: [Y, Y, Y, N],
      },
      'labels(A)': {
        request: () => ({
          query: 'query($d: ID!) { labels(datasetId: $d) { totalCount } }',
          variables: { d: A },
        }),
        outcomes: [Y, Y, Y, N],
      },
      'models(A)': {
        request: () => ({
          query: 'query($d: ID!) { models(datasetId: $d) { nodes { id } } }',
          variables: { d: A },
        }),
        outcomes: [Y, Y, Y, N],
      },
      'registerModel(A)': {
        request: () => ({
          query:
            'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "junk", onnxBase64: $b) { id } }',
          variables: {
            d: A,
            b: Buffer.from('these bytes are not an ONNX model').toString('base64'),
          },
        }),
        state: () => count(t(), 'model WHERE dataset_id = $1', [A]),
        allowedError: 'BAD_USER_INPUT',
        outcomes: [Y, Y, Y, N],
      },
      createApiKey: {
        request: () => ({
          query:
            'mutation($n: String!) { createApiKey(input: { name: $n, role: ANNOTATOR }) { secret } }',
          variables: { n: fresh('minted') },
        }),
        state: () => count(t(), 'api_key'),
        outcomes: [Y, N, N, N],
      },
      apiKeys: {
        request: () => ({ query: '{ apiKeys { nodes { id } } }', variables: {} }),
        outcomes: [Y, N, N, N],
      },
    };

    const cases: [Role, string, Outcome][] = Object.entries(OPERATIONS).flatMap(([name, op]) =>
      ROLES.map((role, i): [Role, string, Outcome] => [role, name, op.outcomes[i]]),
    );

    it.each(cases)('%s: %s is %s', async (role, name, outcome) => {
      const op = OPERATIONS[name];
      const before = await op.state?.();
      const { query, variables } = op.request();
      const res = await t().gql(query, variables, keys[role]);
      const after = await op.state?.();
      if (outcome !== 'allowed') {
        expect(codeOf(res)).toBe(outcome);
        expect(res.data ?? null).toBeNull();
        expect(after).toEqual(before);
      } else if (op.allowedError) {
        // Past authorization, the request is refused for its input, and nothing is stored.
        expect(codeOf(res)).toBe(op.allowedError);
        expect(after).toEqual(before);
      } else {
        expect(res.errors).toBeUndefined();
        expect(res.data).not.toBeNull();
        if (op.state) expect(after).not.toEqual(before);
      }
    });

    it("does not show annotators anyone's labels, so their answers stay independent", async () => {
      const q =
        'query($d: ID!) { items(datasetId: $d, first: 1) { edges { node { externalId label { value } } } } }';
      const res = await t().gql(q, { d: A }, keys['ANNOTATOR scoped to A']);
      expect(codeOf(res)).toBe('FORBIDDEN');
      const history = await t().gql(
        'query($d: ID!) { items(datasetId: $d, first: 1) { edges { node { labels { nodes { value } } } } } }',
        { d: A },
        keys['ANNOTATOR scoped to A'],
      );
      expect(codeOf(history)).toBe('FORBIDDEN');
      const payloadOnly = await t().ok(
        'query($d: ID!) { items(datasetId: $d, first: 1) { edges { node { externalId payload } } } }',
        { d: A },
        keys['ANNOTATOR scoped to A'],
      );
      expect(payloadOnly.items.edges).toHaveLength(1);
    });

    it('refuses to scope an ADMIN key to datasets', async () => {
      const before = await count(t(), 'api_key');
      const res = await t().gql(CREATE_KEY, {
        input: { name: fresh('scoped-admin'), role: 'ADMIN', datasetIds: [A] },
      });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(await count(t(), 'api_key')).toBe(before);
    });

    it('lists only the datasets a scoped key is limited to', async () => {
      for (const role of ['SERVICE scoped to A', 'ANNOTATOR scoped to A'] as const) {
        const { datasets } = await t().ok('{ datasets { nodes { id } } }', {}, keys[role]);
        expect(datasets.nodes.map((d: { id: string }) => d.id)).toEqual([A]);
      }
      const { datasets } = await t().ok(
        '{ datasets(first: 1000) { nodes { id } } }',
        {},
        keys['SERVICE'],
      );
      expect(datasets.nodes.map((d: { id: string }) => d.id)).toEqual(
        expect.arrayContaining([A, B]),
      );
    });

    it('lets a scoped key name its dataset in capitals, as an unscoped key may', async () => {
      const q = 'query($id: ID!) { dataset(id: $id) { id } }';
      for (const role of ['SERVICE', 'SERVICE scoped to A'] as const) {
        const { dataset } = await t().ok(q, { id: A.toUpperCase() }, keys[role]);
        expect(dataset.id).toBe(A);
      }
      const other = await t().gql(q, { id: B.toUpperCase() }, keys['SERVICE scoped to A']);
      expect(codeOf(other)).toBe('NOT_FOUND');
    });

    it("answers a scoped key alike for another dataset's item and for a missing item", async () => {
      const [{ id: itemOfB }] = await t().sql(
        "SELECT id::text AS id FROM item WHERE dataset_id = $1 AND external_id = 'seed'",
        [B],
      );
      const q = 'query($id: ID!) { item(id: $id) { id externalId } }';
      const key = keys['ANNOTATOR scoped to A'];
      const other = await t().gql(q, { id: itemOfB }, key);
      const missing = await t().gql(q, { id: '999999999' }, key);
      expect(other.data ?? null).toBeNull();
      expect(codeOf(other)).toBe(codeOf(missing));
      expect(other.errors![0].message).toBe(
        missing.errors![0].message.replace('999999999', itemOfB),
      );
      expect((await t().gql(q, { id: itemOfB }, keys['SERVICE'])).data.item.externalId).toBe(
        'seed',
      );
    });
  });
});
