import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { TestServer } from './server';
import { waitFor } from './wait-for';

export const CLASSES = ['cat', 'dog', 'bird'];

/** A dataset of `items` random 4-float items, none labelled. */
export async function queueDataset(
  t: TestServer,
  name: string,
  opts: { items?: number; annotationsPerItem?: number; labelBudget?: number | null } = {},
): Promise<string> {
  const { createDataset } = await t.ok(
    'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
    {
      i: {
        name,
        classes: CLASSES,
        featureDim: 4,
        annotationsPerItem: opts.annotationsPerItem ?? 1,
        labelBudget: opts.labelBudget ?? null,
      },
    },
  );
  const n = opts.items ?? 20;
  for (let start = 0; start < n; start += 5000) {
    const items = Array.from({ length: Math.min(5000, n - start) }, (_, j) => ({
      externalId: `${name}-${start + j}`,
      features: [Math.sin(start + j), Math.cos(start + j), (start + j) % 7, 1],
      payload: { text: `item ${start + j}` },
    }));
    await t.ok(
      'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
      { d: createDataset.id, items },
    );
  }
  return createDataset.id;
}

/** Starts a `random` round (optionally with a model, for pre-labels) and waits until it is OPEN. */
export async function openRound(
  t: TestServer,
  datasetId: string,
  size: number,
  opts: { modelIds?: string[]; strategy?: string } = {},
): Promise<string> {
  const { startRound } = await t.ok(
    'mutation($i: StartRoundInput!) { startRound(input: $i) { id } }',
    {
      i: {
        datasetId,
        strategy: opts.strategy ?? 'random',
        size,
        modelIds: opts.modelIds ?? [],
        seed: 7,
      },
    },
  );
  await waitFor(
    async () => {
      const { round } = await t.ok('query($id: ID!) { round(id: $id) { status error } }', {
        id: startRound.id,
      });
      if (!['QUEUED', 'SCORING', 'SELECTING', 'OPEN'].includes(round.status)) {
        throw new Error(`round ended ${round.status}: ${round.error}`);
      }
      return round;
    },
    {
      until: (round) => round.status === 'OPEN',
      timeoutMs: 60_000,
      intervalMs: 50,
      what: `round ${startRound.id} to open`,
    },
  );
  return startRound.id;
}

export const CLAIM = `mutation($d: ID!, $n: Int!, $l: Int, $a: String) {
  claimQueries(datasetId: $d, count: $n, leaseSeconds: $l, annotatorId: $a) {
    token expiresAt annotatorId query { id itemId rank roundId status }
  }
}`;

export const SUBMIT = `mutation($q: ID!, $v: String!, $t: String!, $k: String) {
  submitLabel(queryId: $q, value: $v, claimToken: $t, idempotencyKey: $k) {
    value replayed query { id status answerCount answersNeeded }
  }
}`;

/** A GraphQL subscription over WebSocket, collecting what arrives. */
export interface Subscribed<T> {
  events: T[];
  /** Resolves once `n` events have arrived (or rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<T[]>;
  /** Resolves once `accept` holds for the events so far (or rejects after `timeoutMs`). */
  waitUntil(accept: (events: T[]) => boolean, what: string, timeoutMs?: number): Promise<T[]>;
  /** Settles when the server ends the subscription: `'completed'`, or the error / close event. */
  ended: Promise<unknown>;
  close(): Promise<void>;
}

export async function subscribe<T = any>(
  httpUrl: string,
  key: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<Subscribed<T>> {
  const client: Client = createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
    lazy: false,
    // Errors reach the sinks below; the client's default would also print them.
    onNonLazyError: () => undefined,
  });
  const events: T[] = [];
  let error: unknown;
  let end: (how: unknown) => void = () => undefined;
  const ended = new Promise<unknown>((resolve) => (end = resolve));
  // Subscribed once the server acknowledged the connection and started the operation; a
  // round trip of a throwaway query on the same socket makes sure of both.
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (v) => {
        if (v.errors) error = v.errors;
        else events.push(v.data as T);
      },
      error: (e) => {
        error = e;
        end(e);
      },
      complete: () => end('completed'),
    },
  );
  await new Promise<void>((resolve, reject) => {
    client.subscribe(
      { query: '{ viewer { id } }' },
      { next: () => undefined, error: reject, complete: () => resolve() },
    );
  });
  if (error) throw new Error(JSON.stringify(error));
  const waitUntil = (accept: (events: T[]) => boolean, what: string, timeoutMs = 15_000) =>
    waitFor(
      () => {
        if (error) throw new Error(JSON.stringify(error));
        return events;
      },
      { until: accept, timeoutMs, intervalMs: 20, what },
    );
  return {
    events,
    waitFor: async (n, timeoutMs = 15_000) => {
      await waitUntil((seen) => seen.length >= n, `${n} events`, timeoutMs);
      return events.slice(0, n);
    },
    waitUntil,
    ended,
    close: async () => {
      unsubscribe();
      await client.dispose();
    },
  };
}

/**
 * A round as a test reads it, with `queries` (a connection: `queries(first: …) { edges { node
 * { … } } }`) flattened to the list of its nodes.
 */
export function withQueryList<R extends { queries?: { edges: { node: unknown }[] } }>(
  round: R,
): Omit<R, 'queries'> & { queries: any[] } {
  return { ...round, queries: round.queries?.edges.map((e) => e.node) ?? [] };
}
