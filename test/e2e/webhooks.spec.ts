import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiKeyRole } from '../../src/entities';
import { testModel } from '../helpers/models';
import { CLAIM, SUBMIT, openRound, queueDataset } from '../helpers/queues';
import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait-for';

const CREATE = `mutation($i: CreateWebhookInput!) {
  createWebhook(input: $i) { secret webhook { id datasetId url events active } }
}`;
const DELIVERIES = `query($w: ID!) {
  webhookDeliveries(webhookId: $w) { nodes {
    id webhookId event status attempts responseStatus error body deliveredAt lastAttemptAt
  } }
}`;
const TEST = 'mutation($id: ID!) { testWebhook(id: $id) { id event status attempts } }';
const LABEL = `mutation($d: ID!, $labels: [LabelItemInput!]!) {
  labelItems(datasetId: $d, labels: $labels) { labels { id } }
}`;

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  answered: number;
}

/** A webhook receiver on localhost: answers 500 to the first `failFirst` requests, then 200. */
async function receiver(failFirst: number) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const answered = received.length < failFirst ? 500 : 200;
      received.push({ headers: req.headers, body, answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What a receiver checks: the HMAC-SHA256 of `<timestamp>.<body>` with the webhook's secret. */
function signatureValid(secret: string, r: Received): boolean {
  const ts = String(r.headers['x-quarry-timestamp']);
  const expected = crypto.createHmac('sha256', secret).update(`${ts}.${r.body}`).digest('hex');
  const given = String(r.headers['x-quarry-signature']).replace(/^v1=/, '');
  return (
    given.length === expected.length &&
    crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected)) &&
    Math.abs(Date.now() / 1000 - Number(ts)) < 300
  );
}

async function deliveriesUntil(
  t: TestServer,
  webhookId: string,
  until: (ds: any[]) => boolean,
  what: string,
): Promise<any[]> {
  return waitFor(
    async () => (await t.ok(DELIVERIES, { w: webhookId })).webhookDeliveries.nodes as any[],
    { until, timeoutMs: 45_000, intervalMs: 200, what },
  );
}

describeEachDb(
  'webhooks',
  (t) => {
    let d: string;

    beforeAll(async () => {
      d = await queueDataset(t(), 'hooks', { items: 20 });
    });

    it('refuses a bad URL, an empty event list and an annotator, and writes nothing', async () => {
      const base = { datasetId: d, url: 'http://127.0.0.1:9/x', events: ['ROUND_OPENED'] };
      expect(codeOf(await t().gql(CREATE, { i: { ...base, url: 'ftp://example.com/' } }))).toBe(
        'BAD_USER_INPUT',
      );
      expect(codeOf(await t().gql(CREATE, { i: { ...base, url: 'not a url' } }))).toBe(
        'BAD_USER_INPUT',
      );
      expect(codeOf(await t().gql(CREATE, { i: { ...base, events: [] } }))).toBe('BAD_USER_INPUT');
      const annotator = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
      expect(codeOf(await t().gql(CREATE, { i: base }, annotator))).toBe('FORBIDDEN');
      const { webhooks } = await t().ok('query($d: ID!) { webhooks(datasetId: $d) { id } }', {
        d,
      });
      expect(webhooks).toEqual([]);
    });

    it('shows the secret once: a webhook has no secret field afterwards', async () => {
      const hook = await receiver(0);
      try {
        const { createWebhook } = await t().ok(CREATE, {
          i: { datasetId: d, url: hook.url, events: ['MODEL_REGISTERED'] },
        });
        expect(createWebhook.secret).toMatch(/^whsec_[\w-]{40,}$/);
        const res = await t().gql('query($d: ID!) { webhooks(datasetId: $d) { id secret } }', {
          d,
        });
        expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
        await t().ok('mutation($id: ID!) { deleteWebhook(id: $id) { id } }', {
          id: createWebhook.webhook.id,
        });
      } finally {
        await hook.close();
      }
    });

    it('signs each delivery, retries after a 500 and keeps a delivery log', async () => {
      const hook = await receiver(1);
      try {
        const { createWebhook } = await t().ok(CREATE, {
          i: {
            datasetId: d,
            url: hook.url,
            events: ['ROUND_OPENED', 'QUERY_ANSWERED', 'LABEL_CREATED'],
          },
        });
        const { secret, webhook } = createWebhook;
        expect(webhook).toMatchObject({ datasetId: d, url: hook.url, active: true });

        // A test delivery: refused once with a 500, then delivered by the retry.
        const { testWebhook } = await t().ok(TEST, { id: webhook.id });
        expect(testWebhook).toMatchObject({ event: 'PING', status: 'PENDING' });
        const [ping] = await deliveriesUntil(
          t(),
          webhook.id,
          (ds) => ds[0]?.status === 'SUCCEEDED',
          'the PING to succeed',
        );
        expect(ping).toMatchObject({
          id: testWebhook.id,
          event: 'PING',
          attempts: 2,
          responseStatus: 200,
          error: null,
        });
        expect(hook.received.map((r) => r.answered)).toEqual([500, 200]);
        expect(hook.received.every((r) => r.headers['x-quarry-delivery'] === ping.id)).toBe(true);
        expect(hook.received.every((r) => signatureValid(secret, r))).toBe(true);
        expect(hook.received[0].body).toBe(ping.body);
        // A signature made with another secret does not verify.
        expect(signatureValid('whsec_other', hook.received[1])).toBe(false);

        // Events of the dataset, each delivered once, in a log newest first.
        const round = await openRound(t(), d, 3);
        const { claimQueries } = await t().ok(CLAIM, { d, n: 1 });
        const [claim] = claimQueries;
        await t().ok(SUBMIT, { q: claim.query.id, v: 'dog', t: claim.token });
        const bad = await t().gql(LABEL, { d, labels: [{ externalId: 'hooks-1', value: 'no' }] });
        expect(codeOf(bad)).toBe('BAD_USER_INPUT');
        await t().ok(LABEL, { d, labels: [{ externalId: 'hooks-2', value: 'bird' }] });
        const log = await deliveriesUntil(
          t(),
          webhook.id,
          (ds) => ds.length === 5 && ds.every((x) => x.status === 'SUCCEEDED'),
          'five delivered events',
        );
        expect(log.map((x) => x.event)).toEqual([
          'LABEL_CREATED',
          'LABEL_CREATED',
          'QUERY_ANSWERED',
          'ROUND_OPENED',
          'PING',
        ]);
        const bodies = log.map((x) => JSON.parse(x.body));
        expect(bodies[3]).toMatchObject({
          event: 'ROUND_OPENED',
          datasetId: d,
          data: { roundId: round },
        });
        expect(bodies[2].data).toMatchObject({ queryIds: [claim.query.id] });
        expect(bodies[1].data).toMatchObject({
          source: 'HUMAN',
          queryId: claim.query.id,
          values: ['dog'],
        });
        expect(bodies[0].data).toMatchObject({ source: 'HUMAN', count: 1 });
        expect(hook.received).toHaveLength(6);
        expect(hook.received.every((r) => signatureValid(secret, r))).toBe(true);
        const kinds = hook.received.map((r) => r.headers['x-quarry-event']);
        expect([...kinds].sort()).toEqual([
          'LABEL_CREATED',
          'LABEL_CREATED',
          'PING',
          'PING',
          'QUERY_ANSWERED',
          'ROUND_OPENED',
        ]);
        await t().ok('mutation($id: ID!) { deleteWebhook(id: $id) { id } }', { id: webhook.id });
      } finally {
        await hook.close();
      }
    });

    it('tells of a model registered and, once a minute at most, of a budget refusal', async () => {
      const hook = await receiver(0);
      try {
        const small = await queueDataset(t(), 'hooks-budget', { items: 10, labelBudget: 2 });
        const { createWebhook } = await t().ok(CREATE, {
          i: { datasetId: small, url: hook.url, events: ['MODEL_REGISTERED', 'BUDGET_EXHAUSTED'] },
        });
        const { webhook } = createWebhook;
        const { registerModel } = await t().ok(
          'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id version } }',
          { d: small, b: testModel({ featureDim: 4, classes: 3 }).toString('base64') },
        );
        const start = 'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }';
        for (let i = 0; i < 2; i++) {
          const refused = await t().gql(start, {
            i: { datasetId: small, strategy: 'random', size: 5 },
          });
          expect(codeOf(refused)).toBe('BUDGET_EXHAUSTED');
        }
        const log = await deliveriesUntil(
          t(),
          webhook.id,
          (ds) => ds.length === 2 && ds.every((x) => x.status === 'SUCCEEDED'),
          'two delivered events',
        );
        expect(log.map((x) => x.event)).toEqual(['BUDGET_EXHAUSTED', 'MODEL_REGISTERED']);
        const [exhausted, registered] = log.map((x) => JSON.parse(x.body));
        expect(registered.data).toMatchObject({ modelId: registerModel.id, version: 1 });
        expect(exhausted.data.message).toMatch(/needs 5 budget units, but only 2 of 2 remain/);
      } finally {
        await hook.close();
      }
    });

    it('tells of a round closed: an open round cancelled (the only way a round closes today)', async () => {
      const hook = await receiver(0);
      try {
        const other = await queueDataset(t(), 'hooks-close', { items: 10 });
        const { createWebhook } = await t().ok(CREATE, {
          i: { datasetId: other, url: hook.url, events: ['ROUND_CLOSED'] },
        });
        const { webhook } = createWebhook;
        const round = await openRound(t(), other, 3);
        const cancel = 'mutation($id: ID!) { cancelRound(id: $id) { status } }';
        expect((await t().ok(cancel, { id: round })).cancelRound.status).toBe('CANCELLED');
        const [closed] = await deliveriesUntil(
          t(),
          webhook.id,
          (ds) => ds.length === 1 && ds[0].status === 'SUCCEEDED',
          'ROUND_CLOSED delivered',
        );
        expect(closed.event).toBe('ROUND_CLOSED');
        expect(JSON.parse(closed.body)).toMatchObject({
          event: 'ROUND_CLOSED',
          datasetId: other,
          data: { roundId: round },
        });
        expect(hook.received).toHaveLength(1);
      } finally {
        await hook.close();
      }
    });

    it('marks a delivery FAILED once its attempts are used up', async () => {
      const hook = await receiver(100);
      try {
        const { createWebhook } = await t().ok(CREATE, {
          i: { datasetId: d, url: hook.url, events: ['ROUND_CLOSED'] },
        });
        const { webhook } = createWebhook;
        await t().ok(TEST, { id: webhook.id });
        const [failed] = await deliveriesUntil(
          t(),
          webhook.id,
          (ds) => ds[0]?.status === 'FAILED',
          'the PING to fail',
        );
        expect(failed).toMatchObject({
          attempts: 2,
          responseStatus: 500,
          error: 'answered HTTP 500',
          deliveredAt: null,
        });
        expect(hook.received).toHaveLength(2);
      } finally {
        await hook.close();
      }
    });
  },
  { jobPollingSeconds: 1, webhookMaxAttempts: 2 },
);
