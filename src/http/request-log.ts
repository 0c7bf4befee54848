import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { NextFunction, Request, Response } from 'express';
import { BudgetExhaustedError } from '../errors';
import { logger } from '../logger';
import { graphqlDuration, graphqlOperations, httpRequests } from '../metrics';
import type { GraphQLContext, RequestRecord } from '../resolvers/context';
import { recordRequestSpan } from '../tracing';

export type { RequestRecord };

const records = new WeakMap<IncomingMessage, RequestRecord>();
const SANE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The record of a request (made by {@link requestLog}; an empty one for requests it did not see). */
export function requestRecord(req: IncomingMessage): RequestRecord {
  let record = records.get(req);
  if (!record) {
    record = { id: crypto.randomUUID() };
    records.set(req, record);
  }
  return record;
}

/** The routes metrics are counted by: a fixed set, so that labels stay few. */
function routeOf(path: string): string {
  if (path.startsWith('/graphql')) return '/graphql';
  if (path.startsWith('/export/')) return '/export';
  if (path === '/healthz' || path === '/readyz' || path === '/metrics') return path;
  return 'other';
}

/**
 * Express middleware, first in the chain: gives the request its id (`x-request-id`, also in the
 * response header and in GraphQL errors' extensions as `requestId`) and writes one JSON log line
 * when the answer is sent (or the client goes away): method, path (without the query string,
 * which may carry a GET query's variables), status, duration, operation, key id and error code.
 * Slow requests (`slowRequestMs` or more) and 5xx answers are logged at warn.
 */
export function requestLog(slowRequestMs: number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.headers['x-request-id'];
    const record: RequestRecord = {
      id: typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : crypto.randomUUID(),
    };
    records.set(req, record);
    res.setHeader('x-request-id', record.id);
    const startedAt = Date.now();
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const status = res.writableFinished ? res.statusCode : 499;
      const path = req.originalUrl.split('?')[0];
      const route = routeOf(path);
      httpRequests.inc({ route, status: String(status) });
      if (route === '/graphql') {
        recordRequestSpan({
          startedAt,
          durationMs: ms,
          requestId: record.id,
          method: req.method,
          status,
          operationName: record.operationName,
          operationType: record.operationType,
          keyId: record.keyId,
          errorCode: record.errorCode,
        });
      }
      const line = {
        reqId: record.id,
        method: req.method,
        path,
        status,
        ms: Math.round(ms * 10) / 10,
        operation: record.operationName,
        operationType: record.operationType,
        keyId: record.keyId,
        code: record.errorCode,
      };
      if (status >= 500 || ms >= slowRequestMs) {
        logger.warn({ ...line, slow: ms >= slowRequestMs }, 'request');
      } else {
        logger.info(line, 'request');
      }
    });
    next();
  };
}

/** Distinct operation names kept as metric labels; later ones count as `other`. */
const MAX_OPERATION_NAMES = 500;
const operationNames = new Set<string>();
const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

function operationLabel(name: string | undefined): string {
  if (!name) return 'anonymous';
  if (!OPERATION_NAME.test(name)) return 'other';
  if (!operationNames.has(name)) {
    if (operationNames.size >= MAX_OPERATION_NAMES) return 'other';
    operationNames.add(name);
  }
  return name;
}

/**
 * Apollo plugin: fills the request's record (operation, error code), counts the operation and its
 * duration in the metrics, and puts the request id into every error's extensions.
 */
export function requestLogPlugin(): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart({ contextValue }) {
      const started = process.hrtime.bigint();
      const record = contextValue.request;
      return {
        async didResolveOperation(rc) {
          if (!record) return;
          record.operationName = rc.operationName ?? undefined;
          record.operationType = rc.operation?.operation;
        },
        async willSendResponse(rc) {
          const body = rc.response.body;
          let code = 'OK';
          if (body.kind === 'single' && body.singleResult.errors?.length) {
            const errors = body.singleResult.errors;
            code = String(errors[0].extensions?.code ?? 'INTERNAL_SERVER_ERROR');
            if (record) {
              body.singleResult.errors = errors.map((e) => ({
                ...e,
                extensions: { ...e.extensions, requestId: record.id },
              }));
            }
          }
          if (record && code !== 'OK') record.errorCode = code;
          const operation = operationLabel(rc.operationName ?? undefined);
          const type = rc.operation?.operation ?? 'unknown';
          graphqlOperations.inc({ operation, type, code });
          graphqlDuration.observe(
            { operation, type },
            Number(process.hrtime.bigint() - started) / 1e9,
          );
        },
      };
    },
  };
}

/**
 * Apollo plugin: a request refused with BUDGET_EXHAUSTED becomes the dataset's BUDGET_EXHAUSTED
 * webhook event (throttled per dataset by the webhook service).
 */
export function budgetExhaustedPlugin(): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart({ contextValue }) {
      return {
        async didEncounterErrors(rc) {
          for (const e of rc.errors) {
            const original = unwrapResolverError(e);
            if (original instanceof BudgetExhaustedError && original.datasetId) {
              await contextValue.services.webhooks
                .budgetExhausted(original.datasetId, original.message)
                .catch((err: unknown) =>
                  logger.warn({ err }, 'recording BUDGET_EXHAUSTED for webhooks failed'),
                );
            }
          }
        },
      };
    },
  };
}
