import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * The process-wide Prometheus instruments (like the logger): counters and histograms that the
 * code moves as things happen. What is read from the database or a pool when scraped (queue
 * depth, rounds by status, pool use) is collected per server in `http/metrics.route.ts`.
 * Every name starts with `quarry_`; process metrics (CPU, memory, event-loop lag, GC) keep
 * prom-client's standard names.
 */
export const instruments = new Registry();
collectDefaultMetrics({ register: instruments });

/** Seconds: from 5 ms to 60 s. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds: from 1 s to 6 h, for rounds and tasks. */
const JOB_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 21_600];

export const graphqlOperations = new Counter({
  name: 'quarry_graphql_operations_total',
  help: 'GraphQL operations over HTTP, by operation name and type and by outcome (OK or the first error code).',
  labelNames: ['operation', 'type', 'code'] as const,
  registers: [instruments],
});

export const graphqlDuration = new Histogram({
  name: 'quarry_graphql_operation_duration_seconds',
  help: 'Time to answer a GraphQL operation over HTTP, by operation name and type.',
  labelNames: ['operation', 'type'] as const,
  buckets: DURATION_BUCKETS,
  registers: [instruments],
});

export const httpRequests = new Counter({
  name: 'quarry_http_requests_total',
  help: 'HTTP requests answered, by route and status.',
  labelNames: ['route', 'status'] as const,
  registers: [instruments],
});

export const queueClaims = new Counter({
  name: 'quarry_queue_claims_total',
  help: 'claimQueries calls that handed out at least one query, by dataset.',
  labelNames: ['dataset_id'] as const,
  registers: [instruments],
});

export const queueClaimedQueries = new Counter({
  name: 'quarry_queue_claimed_queries_total',
  help: 'Queries handed out by claims, by dataset.',
  labelNames: ['dataset_id'] as const,
  registers: [instruments],
});

export const queueSubmits = new Counter({
  name: 'quarry_queue_submits_total',
  help: 'submitLabel calls recorded (replays of an idempotency key excluded), by dataset.',
  labelNames: ['dataset_id'] as const,
  registers: [instruments],
});

export const queueAnswers = new Counter({
  name: 'quarry_queue_answers_total',
  help: 'Queries that got all the answers they needed, by dataset and outcome (ANSWERED or NEEDS_REVIEW).',
  labelNames: ['dataset_id', 'status'] as const,
  registers: [instruments],
});

export const roundsFinished = new Counter({
  name: 'quarry_rounds_finished_total',
  help: 'Round jobs run by this process to an end, by status (OPEN, FAILED, CANCELLED).',
  labelNames: ['status'] as const,
  registers: [instruments],
});

export const roundDuration = new Histogram({
  name: 'quarry_round_duration_seconds',
  help: 'Time a round job ran in this process, by the status it ended in.',
  labelNames: ['status'] as const,
  buckets: JOB_BUCKETS,
  registers: [instruments],
});

export const tasksFinished = new Counter({
  name: 'quarry_tasks_finished_total',
  help: 'Tasks (training, simulation, auto-labelling) run by this process to an end, by kind and status.',
  labelNames: ['kind', 'status'] as const,
  registers: [instruments],
});

export const taskDuration = new Histogram({
  name: 'quarry_task_duration_seconds',
  help: 'Time a task ran in this process, by kind and the status it ended in.',
  labelNames: ['kind', 'status'] as const,
  buckets: JOB_BUCKETS,
  registers: [instruments],
});

export const webhookAttempts = new Counter({
  name: 'quarry_webhook_attempts_total',
  help: 'Webhook delivery attempts by this process, by outcome (SUCCEEDED, RETRY, FAILED).',
  labelNames: ['outcome'] as const,
  registers: [instruments],
});

export const dbStatements = new Counter({
  name: 'quarry_db_statements_total',
  help: 'SQL statements this process sent to its database (every pool and connection, BEGIN and COMMIT included).',
  registers: [instruments],
});
