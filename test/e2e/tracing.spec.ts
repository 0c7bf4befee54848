import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { serve, stopProcess, type Served } from '../helpers/process';
import { openRound, queueDataset } from '../helpers/queues';
import type { TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait-for';

/** An OTLP/JSON attribute value, flattened to what it holds. */
type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean };
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}

/** One exported span, flattened: its name, kind, attributes and its resource's attributes. */
interface ReceivedSpan {
  name: string;
  kind: number;
  status?: { code?: number };
  attributes: Record<string, string | number | boolean | undefined>;
  resource: Record<string, string | number | boolean | undefined>;
}

function flatten(attributes: OtlpAttribute[] = []) {
  return Object.fromEntries(
    attributes.map((a) => [
      a.key,
      a.value.stringValue ??
        (a.value.intValue !== undefined ? Number(a.value.intValue) : a.value.boolValue),
    ]),
  );
}

/** A local OTLP/HTTP receiver: keeps the spans of every JSON POST to /v1/traces. */
async function otlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        contentTypes.push(String(req.headers['content-type']));
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rs of body.resourceSpans ?? []) {
          const resource = flatten(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                name: s.name,
                kind: s.kind,
                status: s.status,
                attributes: flatten(s.attributes),
                resource,
              });
            }
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    contentTypes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Waits until a span `matches` has arrived, and returns it. */
async function arrived(
  spans: ReceivedSpan[],
  matches: (s: ReceivedSpan) => boolean,
  what: string,
): Promise<ReceivedSpan> {
  await waitFor(() => spans.some(matches), { what, timeoutMs: 20_000 });
  return spans.find(matches)!;
}

/** The environment of this test run without any OpenTelemetry variable. */
function envWithoutOtel(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
}

describe('OpenTelemetry traces', () => {
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let s: Served | undefined;

  beforeAll(async () => {
    receiver = await otlpReceiver();
  });
  afterAll(async () => {
    if (s) await stopProcess(s);
    await receiver.close();
  });

  it('exports one span per GraphQL request, and a span per round job, to the configured endpoint', async () => {
    s = await serve({
      QUARRY_DATA_DIR: 'memory://',
      DATABASE_URL: '',
      QUARRY_INFERENCE_THREADS: '1',
      QUARRY_JOB_POLLING_SECONDS: '1',
      QUARRY_SHUTDOWN_DRAIN_MS: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    const served = s;
    const adminKey = /"apiKey":"(qk_[^"]+)"/.exec(served.output())![1];
    const post = (query: string, headers: Record<string, string> = {}) =>
      fetch(served.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query }),
      });

    const res = await post('query TracedDatasets { datasets { nodes { id } } }', {
      authorization: `Bearer ${adminKey}`,
      'x-request-id': 'trace-me-1',
    });
    expect(res.status).toBe(200);
    const span = await arrived(
      receiver.spans,
      (x) => x.attributes['quarry.request_id'] === 'trace-me-1',
      'the TracedDatasets span',
    );
    expect(span.name).toBe('TracedDatasets');
    expect(span.kind).toBe(2); // SPAN_KIND_SERVER in OTLP
    expect(span.attributes).toMatchObject({
      'graphql.operation.name': 'TracedDatasets',
      'graphql.operation.type': 'query',
      'http.request.method': 'POST',
      'http.response.status_code': 200,
    });
    expect(span.attributes['quarry.key_id']).toEqual(expect.any(String));
    expect(span.attributes['quarry.error_code']).toBeUndefined();
    // The key id, never the key itself, anywhere in what was exported.
    expect(JSON.stringify(receiver.spans)).not.toContain(adminKey);
    expect(span.resource['service.name']).toBe('quarry');
    expect(receiver.contentTypes[0]).toMatch(/^application\/json/);

    // An anonymous request that fails carries its error code and HTTP status.
    const refused = await post('{ datasets { nodes { id } } }', {
      'x-request-id': 'trace-me-2',
    });
    expect(refused.status).toBe(401);
    const failed = await arrived(
      receiver.spans,
      (x) => x.attributes['quarry.request_id'] === 'trace-me-2',
      'the refused request span',
    );
    expect(failed.name).toBe('graphql.anonymous');
    expect(failed.attributes['http.response.status_code']).toBe(401);
    expect(failed.attributes['quarry.error_code']).toBe('UNAUTHENTICATED');
    expect(failed.status?.code).toBe(2); // ERROR

    // A round's job gets its own span.
    const t = {
      ok: async (query: string, variables?: Record<string, unknown>) => {
        const r = await fetch(served.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
          body: JSON.stringify({ query, variables }),
        });
        const body = (await r.json()) as { data?: any; errors?: unknown[] };
        if (body.errors) throw new Error(JSON.stringify(body.errors));
        return body.data;
      },
    } as unknown as TestServer;
    const d = await queueDataset(t, 'traced', { items: 8 });
    const roundId = await openRound(t, d, 4);
    const roundSpan = await arrived(
      receiver.spans,
      (x) => x.name === 'quarry.round' && x.attributes['quarry.round_id'] === roundId,
      'the round job span',
    );
    expect(roundSpan.kind).toBe(5); // SPAN_KIND_CONSUMER in OTLP

    // Spans still buffered when the server stops are flushed, not lost: a long schedule delay
    // cannot apply to an already-running process, so the last request is sent right before stop.
    await post('query LastBeforeStop { datasets { nodes { id } } }', {
      authorization: `Bearer ${adminKey}`,
      'x-request-id': 'trace-me-last',
    });
    await stopProcess(served);
    s = undefined;
    expect(
      receiver.spans.find((x) => x.attributes['quarry.request_id'] === 'trace-me-last'),
    ).toEqual(expect.objectContaining({ name: 'LastBeforeStop' }));
  }, 120_000);

  /** Starts a server in a fresh process, sends one named operation, and reports what it loaded. */
  async function loadedModules(env: NodeJS.ProcessEnv): Promise<string[]> {
    const dist = path.resolve(__dirname, '../../src');
    const script = `
      const { loadConfig } = require(${JSON.stringify(path.join(dist, 'config.js'))});
      const { startServer } = require(${JSON.stringify(path.join(dist, 'server.js'))});
      (async () => {
        const config = loadConfig({}, { port: 0, host: '127.0.0.1', dataDir: 'memory://' });
        const server = await startServer(config, { bootstrapAdminKey: false });
        const { secret } = await server.services.apiKeys.create({ name: 'k', role: 'ADMIN' });
        const res = await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer ' + secret },
          body: JSON.stringify({ query: 'query Probe { datasets { nodes { id } } }' }),
        });
        if (res.status !== 200) throw new Error('status ' + res.status);
        await server.stop();
        // @opentelemetry/api (a no-op facade) is loaded by other dependencies anyway; the SDK,
        // the exporter and their dependencies must not be.
        const loaded = Object.keys(require.cache).filter(
          (k) => k.includes('@opentelemetry') && !k.includes('@opentelemetry/api/'),
        );
        process.stdout.write('LOADED ' + JSON.stringify(loaded) + '\\n');
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
      env: { ...envWithoutOtel(), DATABASE_URL: '', LOG_LEVEL: 'warn', ...env },
      maxBuffer: 16 * 1024 * 1024,
    });
    const line = stdout.split('\n').find((l) => l.startsWith('LOADED '));
    if (!line) throw new Error(`no report from the server process:\n${stdout}`);
    return JSON.parse(line.slice('LOADED '.length)) as string[];
  }

  it('loads no OpenTelemetry SDK module when no endpoint is configured', async () => {
    expect(await loadedModules({})).toEqual([]);
    // The same check sees them when an endpoint is set (OTEL_SERVICE_NAME honoured on the way).
    const before = receiver.spans.length;
    const loaded = await loadedModules({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/v1/traces`,
      OTEL_SERVICE_NAME: 'quarry-probe',
    });
    expect(loaded.some((m) => m.includes('@opentelemetry/sdk-trace-base'))).toBe(true);
    const probe = receiver.spans.slice(before).find((x) => x.name === 'Probe');
    expect(probe?.resource['service.name']).toBe('quarry-probe');
  }, 120_000);
});
