/**
 * Optional OpenTelemetry traces. Nothing here loads OpenTelemetry unless an OTLP endpoint is
 * configured through the standard variables (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_ENDPOINT`): then {@link startTracing} imports the SDK and the OTLP/HTTP
 * exporter, and Quarry records one span per GraphQL request and one per round or task job.
 * Without an endpoint the helpers below do nothing and cost one `undefined` check.
 *
 * Only type imports name OpenTelemetry at the top level: they are erased from the compiled code.
 */
import type { Attributes, Tracer } from '@opentelemetry/api';
import type { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import fs from 'node:fs';
import path from 'node:path';
import { logger } from './logger';

/** What a recorded span needs of OpenTelemetry's API, kept once loaded. */
interface Active {
  tracer: Tracer;
  provider: BasicTracerProvider;
  spanKind: { SERVER: number; INTERNAL: number; CONSUMER: number };
  errorStatus: number;
  /** Servers started in this process that use it: the last one to stop shuts it down. */
  users: number;
  disableGlobal: () => void;
}

let active: Active | undefined;

/** Quarry's version from its package.json (dist/src/tracing.js sits two folders below it). */
function quarryVersion(): string {
  try {
    const file = path.resolve(__dirname, '..', '..', 'package.json');
    return String((JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version);
  } catch {
    return 'unknown';
  }
}

/** Whether the environment names an OTLP endpoint for traces (and tracing is not disabled). */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase() === 'none') return false;
  return Boolean(
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim(),
  );
}

/**
 * Starts the tracer provider when an endpoint is configured: service name `quarry` unless
 * `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`) says otherwise, batched OTLP/HTTP export
 * (the exporter reads the other standard `OTEL_EXPORTER_OTLP_*` and `OTEL_BSP_*` variables).
 * Returns the stop function (flushes what is buffered), or undefined when tracing is off.
 */
export async function startTracing(
  env: NodeJS.ProcessEnv = process.env,
): Promise<(() => Promise<void>) | undefined> {
  if (!tracingConfigured(env)) return undefined;
  if (!active) {
    const version = quarryVersion();
    const [api, sdk, otlp, resources, semconv] = await Promise.all([
      import('@opentelemetry/api'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/semantic-conventions'),
    ]);
    const resource = resources
      .resourceFromAttributes({
        [semconv.ATTR_SERVICE_NAME]: 'quarry',
        [semconv.ATTR_SERVICE_VERSION]: version,
      })
      // The environment's resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) wins.
      .merge(resources.detectResources({ detectors: [resources.envDetector] }));
    const provider = new sdk.BasicTracerProvider({
      resource,
      spanProcessors: [new sdk.BatchSpanProcessor(new otlp.OTLPTraceExporter())],
    });
    // Registered globally too, so that plugins using @opentelemetry/api land in the same trace
    // export; a provider someone else registered first is left alone.
    const registered = api.trace.setGlobalTracerProvider(provider);
    active = {
      tracer: provider.getTracer('quarry', version),
      provider,
      spanKind: api.SpanKind,
      errorStatus: api.SpanStatusCode.ERROR,
      users: 0,
      disableGlobal: () => {
        if (registered) api.trace.disable();
      },
    };
    logger.info(
      {
        endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT,
      },
      'OpenTelemetry traces are exported over OTLP/HTTP',
    );
  }
  const mine = active;
  mine.users += 1;
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    mine.users -= 1;
    if (mine.users > 0) {
      await mine.provider.forceFlush();
      return;
    }
    if (active === mine) active = undefined;
    mine.disableGlobal();
    await mine.provider.shutdown();
  };
}

/** Whether spans are being recorded (so callers can skip building attributes otherwise). */
export function tracingActive(): boolean {
  return active !== undefined;
}

/** What one GraphQL request's span carries. */
export interface RequestSpan {
  /** Wall-clock start, in ms since the epoch. */
  startedAt: number;
  durationMs: number;
  requestId: string;
  method: string;
  status: number;
  operationName?: string;
  operationType?: string;
  keyId?: string;
  errorCode?: string;
}

/**
 * Records a finished GraphQL request as one SERVER span named after its operation
 * (`graphql.anonymous` without a name). Does nothing when tracing is off.
 */
export function recordRequestSpan(r: RequestSpan): void {
  if (!active) return;
  const attributes: Attributes = {
    'graphql.operation.type': r.operationType ?? 'unknown',
    'http.request.method': r.method,
    'http.response.status_code': r.status,
    'quarry.request_id': r.requestId,
  };
  if (r.operationName) attributes['graphql.operation.name'] = r.operationName;
  if (r.keyId) attributes['quarry.key_id'] = r.keyId;
  if (r.errorCode) attributes['quarry.error_code'] = r.errorCode;
  const span = active.tracer.startSpan(r.operationName || 'graphql.anonymous', {
    kind: active.spanKind.SERVER,
    startTime: r.startedAt,
    attributes,
  });
  if (r.errorCode || r.status >= 500) {
    span.setStatus({ code: active.errorStatus, message: r.errorCode ?? `HTTP ${r.status}` });
  }
  span.end(r.startedAt + r.durationMs);
}

/**
 * Runs a job (a round or a task) inside a CONSUMER span named `name` with `attributes`; a job
 * that throws ends its span with an error status. Without tracing it just runs the job.
 */
export async function traceJob<T>(
  name: string,
  attributes: Attributes,
  job: () => Promise<T>,
): Promise<T> {
  const a = active;
  if (!a) return job();
  const span = a.tracer.startSpan(name, { kind: a.spanKind.CONSUMER, attributes });
  try {
    return await job();
  } catch (e) {
    span.setStatus({
      code: a.errorStatus,
      message: e instanceof Error ? e.message : String(e),
    });
    throw e;
  } finally {
    span.end();
  }
}
