import fs from 'node:fs';
import { CliError, clientFrom, resolveDataset } from '../options';
import { err } from '../output';

/** `quarry export`: streams `/export/labels` to standard output or `--out`. */
export async function exportLabels(opts: {
  dataset: string;
  format: string;
  out?: string;
  url?: string;
  apiKey?: string;
}): Promise<void> {
  const client = clientFrom(opts);
  const dataset = await resolveDataset(client, opts.dataset);
  // The file export is REST (a streamed CSV or JSONL body), beside the GraphQL endpoint.
  const url = `${client.url.replace(/\/graphql\/?$/, '')}/export/labels?datasetId=${encodeURIComponent(dataset.id)}&format=${encodeURIComponent(opts.format)}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${client.apiKey}` } });
  if (!res.ok || !res.body) {
    const text = await res.text();
    let message = text;
    try {
      message = JSON.parse(text).errors[0].message;
    } catch {
      // not JSON; show it as it is
    }
    throw new CliError(`Export failed (HTTP ${res.status}): ${message}`);
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
