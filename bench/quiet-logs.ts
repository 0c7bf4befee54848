/**
 * Imported first by benches that run the server in their own process: its request log (info,
 * one JSON line per request on stdout, and a warning per slow request) would bury the tables
 * the bench prints (bench/trust.ts: about 1,850 lines). LOG_LEVEL set by the caller wins.
 */
process.env.LOG_LEVEL ??= 'error';

export {};
