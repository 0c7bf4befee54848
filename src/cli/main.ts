import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { loadConfig } from '../config';
import { ApiKeyRole } from '../entities/enums';
// The server, the database layer and the services load only in the commands that use them:
// the API commands (import, export, simulate, ...) start without Express, Apollo or TypeORM.
const serverModule = () => import('../server.js');
const database = () => import('../db/database.js');
import { GraphQLClientError, QuarryClient } from './client';
import { countRows, detectFormat, FileFormatError, readItems, type FileItem } from './import-file';
import { mulberry32, samplePermutation, seedFrom } from '../strategies/math';
import { learningCurveCommand, simulateFromCsv, simulateOnServer, trainCommand } from './tasks';

const DEFAULT_URL = 'http://localhost:4000/graphql';

function clientFrom(opts: { url?: string; apiKey?: string }): QuarryClient {
  const apiKey = opts.apiKey ?? process.env.QUARRY_API_KEY;
  if (!apiKey) {
    throw new GraphQLClientError('No API key: pass --api-key or set QUARRY_API_KEY.');
  }
  return new QuarryClient({ url: opts.url ?? process.env.QUARRY_URL ?? DEFAULT_URL, apiKey });
}

function positiveInt(max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`must be an integer from 1 to ${max}`);
    return n;
  };
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

function describeProblems(e: GraphQLClientError): string {
  const problems = e.extensions?.problems as
    { index?: number; id?: string; field?: string; message: string }[] | undefined;
  if (!problems) return '';
  return problems
    .slice(0, 20)
    .map(
      (p) =>
        `  - ${p.id !== undefined ? `item ${JSON.stringify(p.id)}` : `#${p.index}`}${p.field ? ` ${p.field}` : ''}: ${p.message}`,
    )
    .join('\n');
}

async function serve(): Promise<void> {
  const config = loadConfig();
  const { startServer } = await serverModule();
  const server = await startServer(config);
  const shutdown = (signal: string) => {
    err(`${signal} received, stopping…`);
    server.stop().then(
      () => process.exit(0),
      (e) => {
        err(String(e));
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

async function migrate(opts: { check?: boolean }): Promise<void> {
  if (opts.check) {
    // The check compares the entities with a fresh database built only from the migrations.
    const { openDatabase, pendingSchemaChanges } = await database();
    const db = await openDatabase({ dataDir: 'memory://', migrate: true });
    try {
      const { up } = await pendingSchemaChanges(db);
      if (up.length > 0) {
        err('The entities and the migrations disagree. A migration is missing for:');
        for (const q of up) err(`  ${q}`);
        err('Generate one with: npm run migration:generate -- <what-it-does>');
        process.exitCode = 1;
      } else {
        out('Entities and migrations agree.');
      }
    } finally {
      await db.close();
    }
    return;
  }
  const config = loadConfig();
  const { openDatabase } = await database();
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    migrate: false,
  });
  try {
    const applied = await db.ds.runMigrations({ transaction: 'each' });
    out(
      applied.length
        ? `Applied ${applied.map((m) => m.name).join(', ')}.`
        : 'The database is up to date.',
    );
  } finally {
    await db.close();
  }
}

async function keysCreate(opts: {
  name: string;
  role: string;
  datasets?: string[];
}): Promise<void> {
  const role = opts.role.toUpperCase() as ApiKeyRole;
  const config = loadConfig();
  const { openDatabase } = await database();
  const { ApiKeyService } = await import('../services/api-key.service.js');
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const { key, secret } = await new ApiKeyService(db.ds).create({
      name: opts.name,
      role,
      datasetIds: opts.datasets ?? null,
    });
    err(
      `Created ${key.role} key ${JSON.stringify(key.name)} (id ${key.id}). It is shown this once:`,
    );
    out(secret);
  } finally {
    await db.close();
  }
}

async function datasetCreate(opts: {
  name: string;
  classes: string[];
  featureDim: number;
  description?: string;
  budget?: number;
  url?: string;
  apiKey?: string;
}): Promise<void> {
  const client = clientFrom(opts);
  const data = await client.request(
    `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id name } }`,
    {
      input: {
        name: opts.name,
        classes: opts.classes,
        featureDim: opts.featureDim,
        description: opts.description,
        labelBudget: opts.budget,
      },
    },
  );
  err(`Created dataset ${JSON.stringify(data.createDataset.name)}:`);
  out(data.createDataset.id);
}

async function datasetList(opts: { url?: string; apiKey?: string }): Promise<void> {
  const data = await clientFrom(opts).request(
    'query { datasets { id name featureDim classes labelBudget } }',
  );
  for (const d of data.datasets) {
    out(
      `${d.id}  ${d.name}  dim=${d.featureDim}  classes=${d.classes.length}${d.labelBudget !== null ? `  budget=${d.labelBudget}` : ''}`,
    );
  }
}

/** Which of these external ids the dataset already has (asked 1000 at a time, a page's limit). */
async function existingExternalIds(
  client: QuarryClient,
  datasetId: string,
  ids: string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const data = await client.request(
      `query($d: ID!, $ids: [String!]!, $n: Int!) { items(datasetId: $d, filter: { externalIds: $ids }, first: $n) { edges { node { externalId } } } }`,
      { d: datasetId, ids: chunk, n: chunk.length },
    );
    for (const e of data.items.edges as { node: { externalId: string } }[])
      found.add(e.node.externalId);
  }
  return found;
}

const IMPORT_MUTATION = `mutation($datasetId: ID!, $items: [ImportItemInput!]!) {
  importItems(datasetId: $datasetId, items: $items) { importedCount labelledCount }
}`;

async function importFile(
  file: string,
  opts: {
    dataset: string;
    format?: string;
    batchSize: number;
    idColumn?: string;
    labelColumn?: string;
    labels: boolean;
    splitColumn?: string;
    payloadColumns?: string[];
    featureColumns?: string[];
    groundTruthColumn?: string;
    seedLabels?: number;
    holdout?: Holdout;
    seed: number;
    skipExisting?: boolean;
    progress: boolean;
    url?: string;
    apiKey?: string;
  },
): Promise<void> {
  if (!fs.existsSync(file)) throw new FileFormatError(`No such file: ${file}`);
  const format = detectFormat(file, opts.format);
  const client = clientFrom(opts);
  const dataset = await client.resolveDataset(opts.dataset);
  const total = await countRows(file, format);
  const plan = importPlan(total, opts);
  const bar =
    opts.progress && process.stderr.isTTY
      ? new SingleBar(
          {
            format: 'importing [{bar}] {value}/{total} items | {rate} items/s | eta {eta}s',
            stream: process.stderr,
          },
          Presets.shades_classic,
        )
      : undefined;
  bar?.start(total, 0, { rate: 0 });
  const started = Date.now();
  let imported = 0;
  let labelled = 0;
  let skipped = 0;
  let batchNo = 0;
  const send = async (batch: FileItem[]) => {
    batchNo++;
    let items = batch;
    if (opts.skipExisting) {
      const existing = await existingExternalIds(
        client,
        dataset.id,
        batch.map((i) => i.externalId),
      );
      items = batch.filter((i) => !existing.has(i.externalId));
      skipped += batch.length - items.length;
    }
    if (items.length > 0) {
      try {
        const data = await client.request(IMPORT_MUTATION, { datasetId: dataset.id, items });
        imported += data.importItems.importedCount;
        labelled += data.importItems.labelledCount;
      } catch (e) {
        bar?.stop();
        if (e instanceof GraphQLClientError) {
          const first = (batchNo - 1) * opts.batchSize + 1;
          err(
            `Batch ${batchNo} (rows ${first}-${first + batch.length - 1}) was refused, nothing of it was written: ${e.message}`,
          );
          const details = describeProblems(e);
          if (details) err(details);
          err(
            `${imported} items from earlier batches are stored. Fix the file and rerun with --skip-existing to continue.`,
          );
        }
        throw e;
      }
    }
    const secs = (Date.now() - started) / 1000;
    bar?.update(imported + skipped, {
      rate: Math.round((imported + skipped) / Math.max(secs, 0.001)),
    });
  };
  let batch: FileItem[] = [];
  let row = 0;
  for await (const item of readItems(file, { ...opts, format })) {
    const i = row++;
    if (plan.splits) {
      if (item.split) {
        throw new FileFormatError(
          `${file} has a split column; --holdout assigns splits to files without one.`,
        );
      }
      item.split = plan.splits[i];
    }
    // With --seed-labels, only the seed set (and the held-out rows) keep a visible label.
    if (plan.seed && !plan.seed.has(i) && (item.split ?? 'POOL') === 'POOL') delete item.label;
    batch.push(item);
    if (batch.length >= opts.batchSize) {
      await send(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await send(batch);
  bar?.stop();
  const secs = (Date.now() - started) / 1000;
  out(
    `Imported ${imported} items (${labelled} labelled)${skipped ? `, skipped ${skipped} already stored` : ''} into ${JSON.stringify(dataset.name)} in ${secs.toFixed(1)} s (${Math.round(imported / Math.max(secs, 0.001))} items/s).`,
  );
}

/** Shares of the rows held out of the pool, e.g. `test=0.2,validation=0.1`. */
export interface Holdout {
  test: number;
  validation: number;
}

function holdoutOption(value: string): Holdout {
  const h: Holdout = { test: 0, validation: 0 };
  for (const part of value.split(',')) {
    const [k, v] = part.split('=').map((x) => x.trim());
    const share = Number(v);
    if ((k !== 'test' && k !== 'validation') || !(share >= 0 && share < 1)) {
      throw new InvalidArgumentError(
        'expected e.g. test=0.2,validation=0.1 (shares from 0 to 1 of the rows)',
      );
    }
    h[k] = share;
  }
  if (h.test + h.validation >= 1)
    throw new InvalidArgumentError('the shares must add up to less than 1');
  return h;
}

/**
 * Which rows go to which split (--holdout) and which POOL rows keep their label (--seed-labels),
 * drawn from a seeded generator: the same file and seed give the same import.
 */
function importPlan(
  total: number,
  opts: { seedLabels?: number; holdout?: Holdout; seed: number },
): { splits?: string[]; seed?: Set<number> } {
  const random = mulberry32(seedFrom(opts.seed));
  let splits: string[] | undefined;
  if (opts.holdout) {
    const { test, validation } = opts.holdout;
    splits = Array.from({ length: total }, () => {
      const r = random();
      return r < test ? 'TEST' : r < test + validation ? 'VALIDATION' : 'POOL';
    });
  }
  let seed: Set<number> | undefined;
  if (opts.seedLabels !== undefined) {
    const pool = Array.from({ length: total }, (_, i) => i).filter(
      (i) => !splits || splits[i] === 'POOL',
    );
    if (opts.seedLabels > pool.length) {
      throw new FileFormatError(
        `--seed-labels ${opts.seedLabels} is more than the ${pool.length} POOL rows of the file.`,
      );
    }
    const picked = samplePermutation(pool.length, opts.seedLabels, random);
    seed = new Set(Array.from(picked, (i) => pool[i]));
  }
  return { splits, seed };
}

async function exportLabels(opts: {
  dataset: string;
  format: string;
  out?: string;
  url?: string;
  apiKey?: string;
}): Promise<void> {
  const client = clientFrom(opts);
  const dataset = await client.resolveDataset(opts.dataset);
  const url = `${client.baseUrl}/export/labels?datasetId=${encodeURIComponent(dataset.id)}&format=${encodeURIComponent(opts.format)}`;
  const res = await fetch(url, { headers: client.headers() });
  if (!res.ok || !res.body) {
    const text = await res.text();
    let message = text;
    try {
      message = JSON.parse(text).errors[0].message;
    } catch {
      // not JSON; show it as it is
    }
    throw new GraphQLClientError(`Export failed (HTTP ${res.status}): ${message}`);
  }
  const sink: NodeJS.WritableStream = opts.out ? fs.createWriteStream(opts.out) : process.stdout;
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    if (!sink.write(chunk)) await new Promise<void>((r) => sink.once('drain', () => r()));
  }
  if (opts.out) {
    await new Promise<void>((r) => (sink as fs.WriteStream).end(() => r()));
    err(`Wrote ${bytes} bytes of ${opts.format.toUpperCase()} to ${opts.out}.`);
  }
}

async function modelAdd(
  file: string,
  opts: {
    dataset: string;
    name?: string;
    inputName?: string;
    outputName?: string;
    outputKind?: string;
    embeddingOutput?: string;
    url?: string;
    apiKey?: string;
  },
): Promise<void> {
  const client = clientFrom(opts);
  const dataset = await client.resolveDataset(opts.dataset);
  const onnx = fs.readFileSync(file);
  const data = await client.request(
    `mutation($d: ID!, $name: String!, $b64: String!, $in: String, $outName: String, $kind: ModelOutputKind, $emb: String) {
      registerModel(datasetId: $d, name: $name, onnxBase64: $b64, inputName: $in, outputName: $outName, outputKind: $kind, embeddingOutput: $emb) {
        id name version outputName outputKind embeddingOutputName embeddingDim sha256
      }
    }`,
    {
      d: dataset.id,
      name: opts.name ?? path.basename(file, path.extname(file)),
      b64: onnx.toString('base64'),
      in: opts.inputName,
      outName: opts.outputName,
      kind: opts.outputKind?.toUpperCase(),
      emb: opts.embeddingOutput,
    },
  );
  const m = data.registerModel;
  err(
    `Registered ${m.name} as version ${m.version} of ${JSON.stringify(dataset.name)} (${m.outputKind} from ${JSON.stringify(m.outputName)}${m.embeddingOutputName ? `, embedding ${JSON.stringify(m.embeddingOutputName)} of ${m.embeddingDim}` : ''}).`,
  );
  out(m.id);
}

function apiOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', `GraphQL endpoint (env QUARRY_URL, default ${DEFAULT_URL})`)
    .option('--api-key <key>', 'API key (env QUARRY_API_KEY)');
}

export function buildProgram(): Command {
  const program = new Command('quarry')
    .description('Quarry: an active-learning server')
    .showHelpAfterError();

  program
    .command('serve')
    .description('run the server (GraphQL at http://localhost:4000/graphql)')
    .action(serve);

  program
    .command('migrate')
    .description('apply pending database migrations')
    .option('--check', 'only check that the entities and the migrations agree (exit 1 if not)')
    .action(migrate);

  const keys = program.command('keys').description('API keys');
  keys
    .command('create')
    .description('create an API key and print it (shown once); opens the database directly')
    .requiredOption('--name <name>', 'a name to tell the key apart')
    .addOption(
      new Option('--role <role>', 'what the key may do')
        .choices(['ADMIN', 'SERVICE', 'ANNOTATOR', 'admin', 'service', 'annotator'])
        .makeOptionMandatory(),
    )
    .option('--datasets <ids>', 'limit the key to these dataset ids (comma-separated)', list)
    .action(keysCreate);

  const dataset = program.command('dataset').description('datasets');
  apiOptions(
    dataset
      .command('create')
      .description('create a dataset and print its id')
      .requiredOption('--name <name>')
      .requiredOption('--classes <names>', 'class names, comma-separated, in order', list)
      .requiredOption('--feature-dim <n>', 'length of the feature vectors', positiveInt(262144))
      .option('--description <text>')
      .option('--budget <n>', 'label budget', positiveInt(2 ** 31 - 1)),
  ).action(datasetCreate);
  apiOptions(dataset.command('list').description('list datasets')).action(datasetList);

  apiOptions(
    program
      .command('import <file>')
      .description('import items from a CSV or JSONL file through the API, in batches')
      .requiredOption('--dataset <id-or-name>')
      .option('--format <format>', 'csv or jsonl (default: from the file name)')
      .option('--batch-size <n>', 'items per importItems call', positiveInt(10000), 2000)
      .option(
        '--id-column <name>',
        'column with the external id (default: id, else the row number)',
      )
      .option('--label-column <name>', 'column with the label (default: label)')
      .option('--no-labels', 'import without labels, even if the file has them')
      .option(
        '--split-column <name>',
        'column with the split: POOL, VALIDATION or TEST (default: split)',
      )
      .option('--payload-columns <names>', 'CSV columns to copy into the payload', list)
      .option(
        '--ground-truth-column <name>',
        'column kept as hidden ground truth: only simulations and evaluation read it',
      )
      .option(
        '--seed-labels <n>',
        'keep the label of only n random POOL rows (a seed set); held-out rows keep theirs',
        positiveInt(10_000_000),
      )
      .option(
        '--holdout <shares>',
        'assign splits at random, e.g. test=0.2,validation=0.1 (files without a split column)',
        holdoutOption,
      )
      .option('--seed <n>', 'seed of --holdout and --seed-labels', positiveInt(2 ** 31 - 1), 1)
      .option(
        '--feature-columns <names>',
        'CSV columns holding the features (default: all others)',
        list,
      )
      .option(
        '--skip-existing',
        'skip rows whose external id is already stored (to resume an import)',
      )
      .option('--no-progress', 'no progress bar'),
  ).action(importFile);

  apiOptions(
    program
      .command('export')
      .description('export the current label of every labelled item')
      .requiredOption('--dataset <id-or-name>')
      .addOption(new Option('--format <format>').choices(['jsonl', 'csv']).default('jsonl'))
      .option('--out <file>', 'write to a file instead of standard output'),
  ).action(exportLabels);

  const model = program.command('model').description('models');
  apiOptions(
    model
      .command('add <file>')
      .description('register an ONNX model file with a dataset')
      .requiredOption('--dataset <id-or-name>')
      .option('--name <name>', 'model name (default: the file name)')
      .option('--input-name <name>')
      .option('--output-name <name>', 'the output with class scores')
      .addOption(
        new Option('--output-kind <kind>').choices([
          'probabilities',
          'logits',
          'PROBABILITIES',
          'LOGITS',
        ]),
      )
      .option('--embedding-output <name>'),
  ).action(modelAdd);

  apiOptions(
    model
      .command('train')
      .description(
        "train a model on the dataset's labels on the server, wait, and print the new model's id",
      )
      .requiredOption('--dataset <id-or-name>')
      .option('--trainer <code>', 'softmax or mlp (or a plugin)', 'softmax')
      .option('--options <json>', 'trainer options as JSON, e.g. \'{"epochs": 50}\'')
      .option('--include-model-labels', 'train on MODEL labels (auto-labels) too')
      .option('--name <name>', 'model name (default: the trainer code)')
      .option('--no-wait', 'print the training run id at once instead of waiting'),
  ).action(async (opts) => {
    const client = clientFrom(opts);
    const dataset = await client.resolveDataset(opts.dataset);
    await trainCommand(client, dataset.id, opts);
  });

  apiOptions(
    program
      .command('learning-curve')
      .description("the dataset's model versions with their label counts and validation metrics")
      .requiredOption('--dataset <id-or-name>'),
  ).action(async (opts) => {
    const client = clientFrom(opts);
    const dataset = await client.resolveDataset(opts.dataset);
    await learningCurveCommand(client, dataset.id);
  });

  apiOptions(
    program
      .command('simulate')
      .description(
        'compare strategies with whole active-learning loops, the ground truth as oracle: on a dataset (on the server) or straight from a labelled CSV (here)',
      )
      .option('--dataset <id-or-name>', 'a dataset whose items carry ground truth')
      .option('--csv <file>', 'a CSV of feature columns and a label column, instead of a dataset')
      .option('--label-column <name>', 'with --csv: the label column', 'label')
      .option('--test-share <share>', 'with --csv: rows held out as TEST', shareOption, 0.25)
      .option('--strategies <codes>', 'strategies to compare, comma-separated', list, [
        'random',
        'least-confidence',
        'margin',
        'entropy',
      ])
      .option('--seed-size <n>', 'random labels each loop starts from', positiveInt(100_000), 20)
      .option('--batch-size <n>', 'labels each step adds', positiveInt(100_000), 20)
      .option('--budget <n>', 'labels at the end, seed included', positiveInt(100_000), 200)
      .option('--repeats <n>', 'loops per strategy, each from another seed set', positiveInt(20), 5)
      .option('--trainer <code>', 'softmax or mlp (or a plugin)', 'softmax')
      .option('--trainer-options <json>', 'trainer options as JSON')
      .option('--seed <n>', 'seeds every random choice', positiveInt(2 ** 31 - 1))
      .option('--out <file.svg>', 'write the learning curves as an SVG chart')
      .option('--no-progress', 'no progress bar'),
  ).action(async (opts) => {
    if (Boolean(opts.dataset) === Boolean(opts.csv)) {
      throw new InvalidArgumentError('give exactly one of --dataset and --csv');
    }
    if (opts.csv) {
      await simulateFromCsv(opts.csv, opts);
      return;
    }
    const client = clientFrom(opts);
    await simulateOnServer(client, await client.resolveDataset(opts.dataset), opts);
  });

  return program;
}

function shareOption(value: string): number {
  const share = Number(value);
  if (!(share > 0 && share < 1)) throw new InvalidArgumentError('must be between 0 and 1');
  return share;
}

export function main(argv: string[]): void {
  buildProgram()
    .parseAsync(argv)
    .catch((e: unknown) => {
      if (e instanceof GraphQLClientError || e instanceof FileFormatError) {
        err(`quarry: ${e.message}`);
        if (e instanceof GraphQLClientError) {
          const details = describeProblems(e);
          if (details) err(details);
        }
      } else {
        err(`quarry: ${(e as Error).message ?? e}`);
      }
      process.exit(1);
    });
}
