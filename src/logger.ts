import pino from 'pino';

/** The process-wide logger (JSON lines on stdout). */
export const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { service: 'quarry' },
});

export type Logger = typeof logger;
