import fs from 'node:fs';
import { SingleBar, Presets } from 'cli-progress';
import {
  ImportItemsDocument,
  ItemExternalIdsDocument,
  QuarryError,
  type ImportItemInput,
} from '@quarry/client';
import { countRows, detectFormat, FileFormatError, readItems, type FileItem } from '../import-file';
import { clientFrom, resolveDataset, type CliClient, type Holdout } from '../options';
import { describeProblems, err, out } from '../output';
import { mulberry32, samplePermutation, seedFrom } from '../../strategies/math';

/**
 * Codes of a request the server refused before writing (an import is all or nothing); after any
 * other failure (no answer, INTERNAL_SERVER_ERROR) the CLI cannot know whether a batch was stored.
 */
const REFUSALS: ReadonlySet<string> = new Set([
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'BUDGET_EXHAUSTED',
  'PAYLOAD_TOO_LARGE',
  'SERVICE_OVERLOADED',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
]);

/** Which of these external ids the dataset already has (asked 1000 at a time, a page's limit). */
async function existingExternalIds(
  client: CliClient,
  datasetId: string,
  ids: string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const data = await client.sdk.request(ItemExternalIdsDocument, {
      datasetId,
      externalIds: chunk,
      first: chunk.length,
    });
    for (const e of data.items.edges) found.add(e.node.externalId);
  }
  return found;
}

/** `quarry import`: sends a CSV or JSONL file through `importItems`, batch by batch. */
export async function importFile(
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
  const dataset = await resolveDataset(client, opts.dataset);
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
        // The file's split names are the schema's (readItems checks them).
        const data = await client.sdk.request(ImportItemsDocument, {
          datasetId: dataset.id,
          items: items as ImportItemInput[],
        });
        imported += data.importItems.importedCount;
        labelled += data.importItems.labelledCount;
      } catch (e) {
        bar?.stop();
        if (e instanceof QuarryError) {
          const first = (batchNo - 1) * opts.batchSize + 1;
          const rows = `Batch ${batchNo} (rows ${first}-${first + batch.length - 1})`;
          if (REFUSALS.has(e.code)) {
            err(`${rows} was refused, nothing of it was written: ${e.message}`);
            const details = describeProblems(e);
            if (details) err(details);
          } else {
            // No answer, or a failure of the server's own: the batch may have been stored.
            err(
              `${rows} failed, and it may or may not have been written (${e.code}): ${e.message}`,
            );
          }
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
