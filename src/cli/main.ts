import 'reflect-metadata';
import { Command, InvalidArgumentError, Option } from 'commander';
import { QuarryError } from '@quarry/client';
import { FileFormatError } from './import-file';
import {
  apiOptions,
  CliError,
  clientFrom,
  holdoutOption,
  list,
  positiveInt,
  resolveDataset,
  shareOption,
} from './options';
import { describeProblems, err } from './output';
import { serve } from './commands/serve.command';
import { migrate } from './commands/migrate.command';
import { keysCreate } from './commands/keys.command';
import { datasetCreate, datasetList } from './commands/dataset.command';
import { importFile } from './commands/import.command';
import { exportLabels } from './commands/export.command';
import { modelAdd, trainCommand } from './commands/model.command';
import { learningCurveCommand } from './commands/learning-curve.command';
import { simulateFromCsv, simulateOnServer } from './commands/simulate.command';

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
      .option('--options <json>', 'trainer options as JSON, e.g. \'{"C": 10}\'')
      .option('--include-model-labels', 'train on MODEL labels (auto-labels) too')
      .option('--name <name>', 'model name (default: the trainer code)')
      .option('--no-wait', 'print the training run id at once instead of waiting'),
  ).action(async (opts) => {
    const client = clientFrom(opts);
    const dataset = await resolveDataset(client, opts.dataset);
    await trainCommand(client, dataset.id, opts);
  });

  apiOptions(
    program
      .command('learning-curve')
      .description("the dataset's model versions with their label counts and validation metrics")
      .requiredOption('--dataset <id-or-name>'),
  ).action(async (opts) => {
    const client = clientFrom(opts);
    const dataset = await resolveDataset(client, opts.dataset);
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
    await simulateOnServer(client, await resolveDataset(client, opts.dataset), opts);
  });

  return program;
}

/**
 * A reader that stops early (`quarry export ... | head`) closes the pipe: the next write fails
 * with EPIPE, which is the end of the command's work, not an error to report.
 */
export function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

export function main(argv: string[]): void {
  exitQuietlyOnClosedPipe();
  buildProgram()
    .parseAsync(argv)
    .catch((e: unknown) => {
      // A connection the CLI's fetch could not open comes back as the SDK's NETWORK_ERROR.
      if (e instanceof QuarryError && e.cause instanceof CliError) e = e.cause;
      if (e instanceof QuarryError || e instanceof CliError || e instanceof FileFormatError) {
        err(`quarry: ${e.message}`);
        if (e instanceof QuarryError) {
          const details = describeProblems(e);
          if (details) err(details);
        }
      } else {
        err(`quarry: ${(e as Error).message ?? e}`);
      }
      process.exit(1);
    });
}
