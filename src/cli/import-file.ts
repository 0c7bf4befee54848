import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parse } from 'csv-parse';

/** One item read from a CSV or JSONL file, ready for `importItems`. */
export interface FileItem {
  externalId: string;
  featuresBase64: string;
  payload?: unknown;
  split?: string;
  label?: string;
  groundTruth?: string;
}

export interface ReadOptions {
  format?: 'csv' | 'jsonl';
  /** Column (CSV) or field (JSONL) with the external id; default `id`, else the row number. */
  idColumn?: string;
  /** Column with the label; default `label` where present. Ignored with `labels: false`. */
  labelColumn?: string;
  labels?: boolean;
  /** Column with the split (POOL, VALIDATION, TEST); default `split` where present. */
  splitColumn?: string;
  /** Columns copied into each item's payload (CSV). */
  payloadColumns?: string[];
  /** Columns holding the features (CSV); default every other column. */
  featureColumns?: string[];
  /** Column (or JSONL field) stored as the item's hidden ground truth. */
  groundTruthColumn?: string;
}

export class FileFormatError extends Error {}

function toBase64(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}

export function detectFormat(file: string, given?: string): 'csv' | 'jsonl' {
  if (given === 'csv' || given === 'jsonl') return given;
  if (given) throw new FileFormatError(`--format must be csv or jsonl; got ${given}`);
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new FileFormatError(
    `Cannot tell the format of ${file} from its name; pass --format csv or --format jsonl.`,
  );
}

/** Counts data rows cheaply (for the progress bar). */
export async function countRows(file: string, format: 'csv' | 'jsonl'): Promise<number> {
  let n = 0;
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim()) n++;
  return format === 'csv' ? Math.max(0, n - 1) : n;
}

/** Streams the items of a CSV or JSONL file, one at a time, never holding the whole file. */
export async function* readItems(file: string, opts: ReadOptions): AsyncGenerator<FileItem> {
  const format = detectFormat(file, opts.format);
  if (format === 'csv') yield* readCsv(file, opts);
  else yield* readJsonl(file, opts);
}

async function* readCsv(file: string, opts: ReadOptions): AsyncGenerator<FileItem> {
  const parser = fs
    .createReadStream(file)
    .pipe(parse({ columns: true, skip_empty_lines: true, trim: true, info: true }));
  let row = 0;
  let layout:
    | {
        id?: string;
        label?: string;
        split?: string;
        truth?: string;
        payload: string[];
        features: string[];
      }
    | undefined;
  for await (const { record, info } of parser as AsyncIterable<{
    record: Record<string, string>;
    info: { lines: number };
  }>) {
    row++;
    if (!layout) {
      const columns = Object.keys(record);
      const has = (c?: string) => (c && columns.includes(c) ? c : undefined);
      const need = (c: string | undefined, what: string) => {
        if (c && !columns.includes(c))
          throw new FileFormatError(`${file} has no column ${JSON.stringify(c)} (${what}).`);
        return c;
      };
      const id = need(opts.idColumn, '--id-column') ?? has('id');
      const label =
        opts.labels === false
          ? undefined
          : (need(opts.labelColumn, '--label-column') ?? has('label'));
      const split = need(opts.splitColumn, '--split-column') ?? has('split');
      const truth = need(opts.groundTruthColumn, '--ground-truth-column');
      const payload = (opts.payloadColumns ?? []).map((c) => need(c, '--payload-columns')!);
      const reserved = new Set(
        [id, split, truth, ...payload, opts.labelColumn ?? 'label'].filter(Boolean),
      );
      const features = opts.featureColumns
        ? opts.featureColumns.map((c) => need(c, '--feature-columns')!)
        : columns.filter((c) => !reserved.has(c));
      if (features.length === 0) throw new FileFormatError(`${file} has no feature columns.`);
      layout = { id, label, split, truth, payload, features };
    }
    const values = layout.features.map((c) => {
      const v = Number(record[c]);
      if (record[c] === '' || !Number.isFinite(v)) {
        throw new FileFormatError(
          `${file} line ${info.lines} (data row ${row}): column ${c} is ${JSON.stringify(record[c])}, not a finite number.`,
        );
      }
      return v;
    });
    const item: FileItem = {
      externalId: layout.id ? record[layout.id] : String(row),
      featuresBase64: toBase64(values),
    };
    if (layout.payload.length > 0)
      item.payload = Object.fromEntries(layout.payload.map((c) => [c, record[c]]));
    if (layout.label && record[layout.label] !== '') item.label = record[layout.label];
    if (layout.truth && record[layout.truth] !== '') item.groundTruth = record[layout.truth];
    if (layout.split && record[layout.split] !== '')
      item.split = record[layout.split].toUpperCase();
    yield item;
  }
}

async function* readJsonl(file: string, opts: ReadOptions): AsyncGenerator<FileItem> {
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (!text.trim()) continue;
    let o: Record<string, any>;
    try {
      o = JSON.parse(text);
    } catch {
      throw new FileFormatError(`${file} line ${line} is not valid JSON.`);
    }
    if (o === null || typeof o !== 'object' || Array.isArray(o)) {
      throw new FileFormatError(`${file} line ${line} is not a JSON object.`);
    }
    const id = o[opts.idColumn ?? 'externalId'] ?? o.id ?? String(line);
    let featuresBase64: string;
    if (typeof o.featuresBase64 === 'string') featuresBase64 = o.featuresBase64;
    else if (Array.isArray(o.features)) {
      const bad = o.features.findIndex(
        (v: unknown) => typeof v !== 'number' || !Number.isFinite(v),
      );
      if (bad >= 0) {
        const v = o.features[bad];
        throw new FileFormatError(
          `${file} line ${line}: features[${bad}] is ${typeof v === 'number' ? v : JSON.stringify(v)}, not a finite number.`,
        );
      }
      featuresBase64 = toBase64(o.features);
    } else
      throw new FileFormatError(
        `${file} line ${line} has neither features (a list) nor featuresBase64.`,
      );
    const item: FileItem = { externalId: String(id), featuresBase64 };
    if (o.payload !== undefined) item.payload = o.payload;
    const label = opts.labels === false ? undefined : o[opts.labelColumn ?? 'label'];
    if (label !== undefined && label !== null) item.label = String(label);
    const split = o[opts.splitColumn ?? 'split'];
    if (split) item.split = String(split).toUpperCase();
    if (opts.groundTruthColumn) {
      const truth = o[opts.groundTruthColumn];
      if (truth !== undefined && truth !== null) item.groundTruth = String(truth);
    }
    yield item;
  }
}
