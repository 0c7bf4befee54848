/**
 * Plays the annotator for the README's first session: works a dataset's label queue the way a
 * labelling tool would, with the client SDK (claim, decide, submit with an idempotency key),
 * and answers each query with the label the example CSV gives its item (the item's external id
 * is its CSV row number).
 *
 *   npm run example:annotate -- --dataset digits [--csv examples/data/digits.csv] [--max 100]
 *
 * Uses QUARRY_URL (default http://localhost:4000/graphql) and QUARRY_API_KEY.
 */
import fs from 'node:fs';
import path from 'node:path';
import { QuarryClient } from '@quarry/client';

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
  const { id } = await client.datasets.find(dataset);
  let answered = 0;
  const enough = new AbortController();
  const report = await client.queue.work(
    id,
    (claim) => {
      const value = truth.get(claim.query.item.externalId);
      if (value === undefined) return { skip: true, reason: 'not in the CSV' };
      if (++answered >= max) enough.abort();
      return value;
    },
    { leaseSeconds: 60, signal: enough.signal },
  );
  process.stderr.write(
    `Answered ${report.submitted} queries of ${JSON.stringify(dataset)} (${report.skipped} skipped).\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`annotate: ${(e as Error).message}\n`);
  process.exit(1);
});
