/**
 * What a third-party tool writes with `@quarry/client`: import a CSV, train a model, start a
 * round, let three (simulated) annotators work the queue, retrain, and export the labels.
 *
 *   npm run example:third-party -- [--csv examples/data/digits.csv] [--out labels.jsonl]
 *
 * Uses QUARRY_URL (default http://localhost:4000/graphql) and QUARRY_API_KEY (ADMIN or SERVICE).
 * The annotators answer from the CSV's `label` column, which the import keeps as hidden ground
 * truth; one answer in ten is deliberately wrong, as people's sometimes are.
 */
import fs from 'node:fs';
import path from 'node:path';
import { QuarryClient, QuarryError, parseCsv, type ImportItemInput } from '@quarry/client';
import WebSocket from 'ws';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const csv = arg('csv', path.resolve(__dirname, '../../examples/data/digits.csv'));
  const out = arg('out', 'labels.jsonl');
  const client = new QuarryClient({
    url: process.env.QUARRY_URL ?? 'http://localhost:4000/graphql',
    apiKey: process.env.QUARRY_API_KEY,
    // Node 20 has no global WebSocket; browsers and Node 22+ need no option.
    webSocketImpl: WebSocket,
  });

  const dataset = await client.datasets.create({
    name: `digits-sdk-${Date.now()}`,
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    featureDim: 64,
  });
  console.log(`dataset ${dataset.name} (${dataset.id})`);

  // 1. Import: every 5th row TEST, the next VALIDATION (labelled, for metrics), 30 seed labels.
  const truth = new Map<string, string>();
  let seeded = 0;
  async function* items(): AsyncGenerator<ImportItemInput> {
    let row = 0;
    for await (const record of parseCsv(fs.createReadStream(csv))) {
      const externalId = String(++row);
      const { label, ...pixels } = record;
      truth.set(externalId, label);
      const split = row % 5 === 0 ? 'TEST' : row % 5 === 1 ? 'VALIDATION' : 'POOL';
      const seed = split === 'POOL' && row % 7 === 0 && seeded < 30;
      if (seed) seeded++;
      yield {
        externalId,
        features: Object.values(pixels).map(Number),
        split,
        groundTruth: label,
        label: split === 'VALIDATION' || seed ? label : null,
      };
    }
  }
  const imported = await client.items.import(dataset.id, items(), {
    batchSize: 500,
    onProgress: (p) => console.log(`  imported ${p.imported} items`),
  });
  console.log(`imported ${imported.imported} items, ${imported.labelled} of them labelled`);

  // 2. Train on the seed labels; the promise settles when the run has ended.
  const first = await client.models.train({ datasetId: dataset.id, trainer: 'softmax' });
  console.log(
    `model v${first.model?.version}: accuracy ${first.model?.metrics?.accuracy.toFixed(3)}`,
  );

  // 3. A margin round with that model; resolves when its queries are queued.
  const round = await client.rounds.start(
    { datasetId: dataset.id, strategy: 'margin', size: 60, modelIds: [first.modelId!] },
    { onProgress: (e) => console.log(`  round ${e.status} ${e.scored}/${e.total ?? '?'}`) },
  );
  console.log(`round ${round.id} is ${round.status} with ${round.size} queries`);

  // 4. Three annotators work the queue at once (claim, decide, submit; leases kept alive).
  const answeredBy = new Map<string, number>();
  const report = await client.queue.work(
    dataset.id,
    async (claim) => {
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
      const right = truth.get(claim.query.item.externalId)!;
      answeredBy.set(claim.annotatorId, (answeredBy.get(claim.annotatorId) ?? 0) + 1);
      return Math.random() < 0.1 ? String((Number(right) + 1) % 10) : right;
    },
    { concurrency: 3, annotatorId: (i) => `annotator-${i + 1}` },
  );
  console.log(`labelled ${report.submitted} queries:`, Object.fromEntries(answeredBy));

  // 5. Retrain and print the learning curve.
  await client.models.train({ datasetId: dataset.id, trainer: 'softmax' });
  for (const point of await client.models.learningCurve(dataset.id)) {
    console.log(
      `  v${point.model.version}: ${point.humanLabels} human labels, accuracy ${point.metrics?.accuracy.toFixed(3)}`,
    );
  }

  // 6. Export the current labels as JSON Lines, a page at a time.
  const file = fs.createWriteStream(out);
  let exported = 0;
  for await (const label of client.labels.export(dataset.id, { source: 'HUMAN' })) {
    file.write(
      `${JSON.stringify({ itemId: label.itemId, value: label.value, by: label.annotatorId })}\n`,
    );
    exported++;
  }
  await new Promise<void>((resolve, reject) =>
    file.end((e?: Error | null) => (e ? reject(e) : resolve())),
  );
  console.log(`exported ${exported} labels to ${out}`);
  await client.close();
}

main().catch((e: unknown) => {
  if (e instanceof QuarryError) console.error(`${e.code}: ${e.message}`, e.problems);
  else console.error(e);
  process.exitCode = 1;
});
