import { Client } from 'pg';
import { disableOnnxTelemetry } from '../../src/ml/onnx-env';

/** Candidate PostgreSQL servers for the end-to-end specs, in order. */
function candidates(): string[] {
  const given = process.env.QUARRY_TEST_DATABASE_URL;
  if (given) return [given];
  return ['postgres://postgres@127.0.0.1:5432/test', 'postgres://root@127.0.0.1:5432/test'];
}

async function reachable(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Finds the PostgreSQL server the end-to-end specs also run on and tells the test workers
 * (QUARRY_TEST_PG_URL). With QUARRY_TEST_REQUIRE_PG=1 (CI), an unreachable server fails the run.
 */
export default async function globalSetup(): Promise<void> {
  // In the real environment, which the test workers inherit: onnxruntime, loaded in a worker
  // process (in-process servers, model checks, specs running models), reads it there, while the
  // assignment Quarry makes at run time only reaches Jest's copy of process.env.
  disableOnnxTelemetry();
  for (const url of candidates()) {
    if (await reachable(url)) {
      process.env.QUARRY_TEST_PG_URL = url;
      return;
    }
  }
  process.env.QUARRY_TEST_PG_URL = '';
  if (process.env.QUARRY_TEST_REQUIRE_PG === '1') {
    throw new Error(
      `QUARRY_TEST_REQUIRE_PG=1 but no PostgreSQL server answered at ${candidates().join(' or ')}`,
    );
  }
  process.stderr.write(
    '\nNo PostgreSQL reachable: end-to-end specs run on the embedded database only.\n',
  );
}
