import type { Database } from '../db/database';
import { leasesOfTokens } from '../db/sql/slots.sql';
import { run } from '../db/sql/statement';
import type { EventBus } from '../services/event-bus';
import { QueueEventKind } from '../services/event-bus';
import type { JobQueue, LeaseJobData } from './job-queue';

/**
 * Runs the lease checks that claims enqueue (due when their leases end): leases that ran out
 * unanswered are published as one LEASE_EXPIRED queue event, on whichever process takes the job,
 * so every subscriber hears of it; leases renewed meanwhile are checked again when they end.
 */
export class LeaseChecker {
  constructor(
    private readonly db: Database,
    private readonly events: EventBus,
    private readonly jobs: JobQueue,
  ) {}

  async check(data: LeaseJobData): Promise<void> {
    const ds = this.db.ds;
    const rows = await run<{ queryId: string; token: string; expiresAt: Date; expired: boolean }>(
      ds,
      leasesOfTokens(data.tokens),
    );
    const expired = [...new Set(rows.filter((r) => r.expired).map((r) => String(r.queryId)))];
    if (expired.length > 0) {
      await this.events.publish(ds, {
        type: 'queue',
        kind: QueueEventKind.LEASE_EXPIRED,
        datasetId: data.datasetId,
        roundId: null,
        queryIds: expired,
      });
    }
    const renewed = rows.filter((r) => !r.expired);
    if (renewed.length > 0) {
      const last = Math.max(...renewed.map((r) => new Date(r.expiresAt).getTime()));
      await this.jobs.sendLeaseCheck(
        ds,
        { datasetId: data.datasetId, tokens: renewed.map((r) => r.token) },
        Math.max(1, Math.ceil((last - Date.now()) / 1000)),
      );
    }
  }
}
