import type { GraphQLTransport } from './client.js';
import {
  ImportItemsDocument,
  ItemExternalIdsDocument,
  ItemsDocument,
  LabelItemsDocument,
  LabelsDocument,
  type ImportItemInput,
  type ItemFieldsFragment,
  type ItemFilter,
  type LabelFilter,
  type LabelItemInput,
  type LabelSource,
  type LabelsQuery,
} from './gql/graphql.js';
import { withRetry } from './retry.js';

export type Item = ItemFieldsFragment;
export type Label = LabelsQuery['labels']['edges'][number]['node'];

/** The server's limit on one importItems call, and on one page. */
const MAX_BATCH = 10_000;
const MAX_PAGE = 1000;

/** Where an import stands, after each batch. */
export interface ImportProgress {
  /** Items written so far. */
  imported: number;
  /** Items left out because their external id was already there (`skipExisting`). */
  skipped: number;
  /** Of those written, how many arrived labelled. */
  labelled: number;
  batches: number;
}

/** Options of {@link ItemsApi.import}. */
export interface ImportOptions {
  /** Items per importItems call, 1 to 10,000. Default 1000. */
  batchSize?: number;
  /**
   * Leave out items whose external id the dataset already has, so an interrupted import can
   * run again from the start; a batch whose answer was lost is then retried safely. Default false.
   */
  skipExisting?: boolean;
  onProgress?: (progress: ImportProgress) => void;
  signal?: AbortSignal;
}

/** Options of the paging iterators. */
export interface PageOptions {
  /** Rows per request, 1 to 1000. Default 500. */
  pageSize?: number;
  signal?: AbortSignal;
}

/** `client.items`: import and read items. */
export class ItemsApi {
  constructor(private readonly t: GraphQLTransport) {}

  /**
   * Imports items from any iterable or async iterable (an array, a generator, a parsed CSV or
   * JSONL stream: see {@link parseJsonLines}), in batches of all-or-nothing calls.
   * `BAD_USER_INPUT` with `.problems` names the bad items of the batch that failed; the
   * batches before it stay imported (run again with `skipExisting` to resume).
   */
  async import(
    datasetId: string,
    items: Iterable<ImportItemInput> | AsyncIterable<ImportItemInput>,
    opts: ImportOptions = {},
  ): Promise<ImportProgress> {
    const batchSize = opts.batchSize ?? 1000;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
      throw new RangeError(
        `options.batchSize must be an integer from 1 to ${MAX_BATCH}; got ${batchSize}`,
      );
    }
    const progress: ImportProgress = { imported: 0, skipped: 0, labelled: 0, batches: 0 };
    let batch: ImportItemInput[] = [];
    const flush = async () => {
      const sending = batch;
      batch = [];
      await withRetry(
        async () => {
          const fresh = opts.skipExisting
            ? await this.#withoutExisting(datasetId, sending)
            : sending;
          progress.skipped += sending.length - fresh.length;
          if (fresh.length === 0) return;
          const { importItems } = await this.t.request(
            ImportItemsDocument,
            { datasetId, items: fresh },
            { retry: { retries: 0 }, signal: opts.signal },
          );
          progress.imported += importItems.importedCount;
          progress.labelled += importItems.labelledCount;
        },
        { ...this.t.retry, idempotent: opts.skipExisting === true, signal: opts.signal },
      );
      progress.batches++;
      opts.onProgress?.({ ...progress });
    };
    for await (const item of items) {
      batch.push(item);
      if (batch.length >= batchSize) await flush();
    }
    if (batch.length > 0) await flush();
    return progress;
  }

  /**
   * Every item of the dataset matching `filter`, in import order, fetched a page at a time as
   * the loop asks for them.
   *
   * @example
   * ```ts
   * for await (const item of client.items.iterate(datasetId, { labelled: false })) console.log(item.externalId);
   * ```
   */
  async *iterate(
    datasetId: string,
    filter: ItemFilter = {},
    opts: PageOptions = {},
  ): AsyncGenerator<Item> {
    const first = pageSize(opts);
    let after: string | null | undefined;
    for (;;) {
      const { items } = await this.t.request(
        ItemsDocument,
        { datasetId, filter, first, after },
        { signal: opts.signal },
      );
      for (const edge of items.edges) yield edge.node;
      if (!items.pageInfo.hasNextPage) return;
      after = items.pageInfo.endCursor;
    }
  }

  async #withoutExisting(datasetId: string, items: ImportItemInput[]): Promise<ImportItemInput[]> {
    const existing = new Set<string>();
    for (let i = 0; i < items.length; i += MAX_PAGE) {
      const externalIds = items.slice(i, i + MAX_PAGE).map((it) => it.externalId);
      const { items: found } = await this.t.request(ItemExternalIdsDocument, {
        datasetId,
        externalIds,
        first: externalIds.length,
      });
      for (const edge of found.edges) existing.add(edge.node.externalId);
    }
    return existing.size === 0 ? items : items.filter((it) => !existing.has(it.externalId));
  }
}

/** `client.labels`: write labels in bulk and export them. */
export class LabelsApi {
  constructor(private readonly t: GraphQLTransport) {}

  /**
   * Writes labels by item id or external id, all or nothing. Sent with an idempotency key
   * (one is made when none is given), so a lost answer is retried without writing twice.
   */
  async write(
    datasetId: string,
    labels: LabelItemInput[],
    opts: { source?: LabelSource; idempotencyKey?: string } = {},
  ) {
    const { labelItems } = await this.t.request(
      LabelItemsDocument,
      {
        datasetId,
        labels,
        source: opts.source,
        idempotencyKey: opts.idempotencyKey ?? globalThis.crypto.randomUUID(),
      },
      { idempotent: true },
    );
    return labelItems;
  }

  /**
   * The dataset's labels (current ones unless the filter says otherwise) in the order they were
   * written, as a stream fetched a page at a time.
   */
  async *export(
    datasetId: string,
    filter: LabelFilter = {},
    opts: PageOptions = {},
  ): AsyncGenerator<Label> {
    const first = pageSize(opts);
    let after: string | null | undefined;
    for (;;) {
      const { labels } = await this.t.request(
        LabelsDocument,
        { datasetId, filter, first, after },
        { signal: opts.signal },
      );
      for (const edge of labels.edges) yield edge.node;
      if (!labels.pageInfo.hasNextPage) return;
      after = labels.pageInfo.endCursor;
    }
  }
}

function pageSize(opts: PageOptions): number {
  const n = opts.pageSize ?? 500;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) {
    throw new RangeError(`options.pageSize must be an integer from 1 to ${MAX_PAGE}; got ${n}`);
  }
  return n;
}

/**
 * Parses JSON Lines (one item object per line) from a stream of text or bytes, e.g. a
 * `fetch` body or a Node file stream, for {@link ItemsApi.import}. Blank lines are skipped.
 */
export async function* parseJsonLines<T = ImportItemInput>(
  chunks: AsyncIterable<string | Uint8Array>,
): AsyncGenerator<T> {
  const decoder = new TextDecoder();
  let rest = '';
  let line = 0;
  const parse = (text: string): T => {
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new SyntaxError(`JSON Lines: line ${line} is not JSON: ${(e as Error).message}`);
    }
  };
  for await (const chunk of chunks) {
    rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const text = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      line++;
      if (text !== '') yield parse(text);
    }
  }
  rest += decoder.decode();
  line++;
  if (rest.trim() !== '') yield parse(rest.trim());
}

/**
 * Parses CSV (RFC 4180: quoted fields, doubled quotes, CRLF or LF) from a stream of text or
 * bytes into one record per row, keyed by the header row, for {@link ItemsApi.import} after a
 * `map` into items.
 *
 * @example
 * ```ts
 * for await (const row of parseCsv(fs.createReadStream('items.csv'))) console.log(row.id);
 * ```
 */
export async function* parseCsv(
  chunks: AsyncIterable<string | Uint8Array>,
): AsyncGenerator<Record<string, string>> {
  const decoder = new TextDecoder();
  let header: string[] | undefined;
  let field = '';
  let row: string[] = [];
  let quoted = false;
  let pendingQuote = false;
  const rows: string[][] = [];
  const endRow = () => {
    row.push(field);
    field = '';
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
    row = [];
  };
  const feed = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (pendingQuote) {
          pendingQuote = false;
          if (c === '"') {
            field += '"';
            continue;
          }
          quoted = false;
        } else if (c === '"') {
          pendingQuote = true;
          continue;
        } else {
          field += c;
          continue;
        }
      }
      if (c === '"' && field === '') quoted = true;
      else if (c === ',') {
        row.push(field);
        field = '';
      } else if (c === '\n') endRow();
      else if (c !== '\r') field += c;
    }
  };
  function* drain(): Generator<Record<string, string>> {
    for (const r of rows.splice(0)) {
      if (!header) {
        header = r;
        continue;
      }
      const record: Record<string, string> = {};
      header.forEach((name, i) => (record[name] = r[i] ?? ''));
      yield record;
    }
  }
  for await (const chunk of chunks) {
    feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    yield* drain();
  }
  feed(decoder.decode());
  if (pendingQuote) quoted = false;
  if (field !== '' || row.length > 0) endRow();
  yield* drain();
}
