import pino from 'pino';

/**
 * The process-wide logger (JSON lines on stdout). Lines are written asynchronously (pino flushes
 * what is left when the process exits): a synchronous write per request (the request log)
 * blocked the event loop whenever the reader of stdout fell behind.
 */
export const logger = pino(
  {
    level: process.env.LOG_LEVEL ?? 'info',
    base: { service: 'quarry' },
  },
  pino.destination({ dest: 1, sync: false }),
);

export type Logger = typeof logger;
