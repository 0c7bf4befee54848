import type { RequestHandler } from 'express';
import { stringify as csvStringify } from 'csv-stringify/sync';
import type { ApiKey } from '../entities';
import { ErrorCode, QuarryError } from '../errors';
import { logger } from '../logger';
import type { Services } from '../services';
import { httpStatusOf, sendError } from './errors';

/** The columns of an export, in order (the CSV header). */
const EXPORT_COLUMNS = [
  'itemId',
  'externalId',
  'label',
  'source',
  'confidence',
  'annotatorId',
  'modelId',
  'split',
  'origin',
  'createdAt',
] as const;

/**
 * `GET /export/labels?datasetId=…&format=jsonl|csv`: the current labels of a dataset, streamed
 * batch by batch (waiting for the socket to drain). Errors before the first byte are answered
 * with a status ({@link httpStatusOf}) and a GraphQL-shaped body; an error part-way destroys the
 * response, so a truncated export cannot pass for a whole one.
 */
export function exportLabelsRoute(
  services: Services,
  authenticate: (req: Parameters<RequestHandler>[0]) => Promise<ApiKey>,
): RequestHandler {
  return async (req, res) => {
    const format = String(req.query.format ?? 'jsonl');
    const datasetId = String(req.query.datasetId ?? '');
    let started = false;
    const start = () => {
      res.status(200).type(format === 'csv' ? 'text/csv' : 'application/x-ndjson');
      if (format === 'csv') res.write(EXPORT_COLUMNS.join(',') + '\n');
      started = true;
    };
    try {
      const key = await authenticate(req);
      if (format !== 'jsonl' && format !== 'csv') {
        sendError(res, 400, ErrorCode.BAD_USER_INPUT, 'format must be jsonl or csv');
        return;
      }
      for await (const batch of services.labels.exportCurrent(key, datasetId)) {
        if (!started) start();
        const out =
          format === 'csv'
            ? csvStringify(
                batch.map((r) =>
                  EXPORT_COLUMNS.map((c) => (c === 'createdAt' ? r.createdAt.toISOString() : r[c])),
                ),
              )
            : batch
                .map((r) =>
                  JSON.stringify(Object.fromEntries(EXPORT_COLUMNS.map((c) => [c, r[c]]))),
                )
                .join('\n') + '\n';
        if (!res.write(out)) await new Promise((resolve) => res.once('drain', resolve));
      }
      if (!started) start();
      res.end();
    } catch (e) {
      if (started) {
        logger.error({ err: e }, 'label export failed part-way');
        res.destroy(e as Error);
      } else if (e instanceof QuarryError) {
        sendError(res, httpStatusOf(e), String(e.extensions.code), e.message);
      } else {
        logger.error({ err: e }, 'label export failed');
        sendError(res, 500, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
      }
    }
  };
}
