/**
 * Plays the annotator for the README's first session: works a dataset's label queue the way a
 * labelling tool would (claim, submit with an idempotency key) and answers each query with the
 * label the example CSV gives its item (the item's external id is its CSV row number).
 *
 *   npm run example:annotate -- --dataset digits [--csv examples/data/digits.csv] [--max 100]
 *
 * Uses QUARRY_URL (default http://localhost:4000/graphql) and QUARRY_API_KEY.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { QuarryClient } from '../src/cli/client';

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const dataset = arg('dataset');
  if (!dataset) throw new Error('usage: npm run example:annotate -- --dataset <id-or-name>');
  const csv = arg('csv', path.resolve(__dirname, '../../examples/data/digits.csv'))!;
  const max = Number(arg('max', '1000000'));
  const [header, ...lines] = fs.readFileSync(csv, 'utf8').trim().split(/\r?\n/);
  const labelAt = header.split(',').indexOf('label');
  // Row numbers are the external ids `quarry import` gives rows of a file without an id column.
  const truth = new Map(lines.map((line, i) => [String(i + 1), line.split(',')[labelAt]]));

  const client = new QuarryClient({
    url: process.env.QUARRY_URL ?? 'http://localhost:4000/graphql',
    apiKey: process.env.QUARRY_API_KEY,
  });
  const { id } = await client.resolveDataset(dataset);
  let answered = 0;
  while (answered < max) {
    const { claimQueries } = await client.request(
      `mutation($d: ID!) { claimQueries(datasetId: $d, count: 10, leaseSeconds: 60) {
        token query { id item { externalId } preLabel { value } } } }`,
      { d: id },
    );
    if (claimQueries.length === 0) break;
    for (const c of claimQueries) {
      const value = truth.get(c.query.item.externalId);
      if (value === undefined) {
        await client.request(
          'mutation($t: String!) { skipQuery(claimToken: $t, reason: "not in the CSV") { id } }',
          {
            t: c.token,
          },
        );
        continue;
      }
      await client.request(
        `mutation($q: ID!, $v: String!, $t: String!, $k: String) {
          submitLabel(queryId: $q, value: $v, claimToken: $t, idempotencyKey: $k) { query { status } } }`,
        { q: c.query.id, v: value, t: c.token, k: crypto.randomUUID() },
      );
      answered++;
    }
  }
  process.stderr.write(`Answered ${answered} queries of ${JSON.stringify(dataset)}.\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`annotate: ${(e as Error).message}\n`);
  process.exit(1);
});
