import 'reflect-metadata';

// Quiet server logs in tests unless asked for (LOG_LEVEL=info npm test).
process.env.LOG_LEVEL ??= 'silent';
