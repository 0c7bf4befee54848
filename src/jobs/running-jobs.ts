import { logger } from '../logger';

/**
 * The jobs (rounds, tasks) one runner runs now, each with its heartbeat, and the switch that
 * hands them all back at once when the process stops: their heartbeats stop and their `run`
 * rejects at once (so pg-boss fails the job and retries it within seconds, in any process),
 * while what the process still computes for them is dropped.
 */
export class RunningJobs {
  private readonly jobs = new Map<string, { beat: NodeJS.Timeout; handBack: () => void }>();
  private stopping = false;

  constructor(
    /** What the logs call a job: `round`, `task`. */
    private readonly noun: string,
    /** The error `run` rejects with when the job is handed back. */
    private readonly interruptedError: () => Error,
  ) {}

  /** True once {@link interrupt} was called: nothing more may be written for a job. */
  get interrupted(): boolean {
    return this.stopping;
  }

  /** Throws the interrupted error once the process is stopping. */
  check(): void {
    if (this.stopping) throw this.interruptedError();
  }

  /**
   * Runs `work` for job `id`, calling `beat` every `intervalMs` meanwhile; rejects at once when
   * the job is handed back.
   */
  async run<T>(
    id: string,
    beat: () => Promise<unknown>,
    intervalMs: number,
    work: () => Promise<T>,
  ): Promise<T> {
    this.check();
    const timer = setInterval(() => {
      beat().catch((err) => logger.warn({ id, err }, `${this.noun} heartbeat failed`));
    }, intervalMs);
    let handBack = (): void => undefined;
    const handedBack = new Promise<never>((_resolve, reject) => {
      handBack = () => reject(this.interruptedError());
    });
    this.jobs.set(id, { beat: timer, handBack });
    try {
      const working = work();
      working.catch(() => undefined); // when handed back, what it still does is dropped
      return await Promise.race([working, handedBack]);
    } finally {
      clearInterval(timer);
      this.jobs.delete(id);
    }
  }

  /**
   * Stops every job's heartbeat and ends its `run` at once; `release` puts each one back for
   * another process (e.g. QUEUED again). A failure to release leaves the job to its expiry.
   */
  async interrupt(release: (id: string) => Promise<unknown>): Promise<void> {
    this.stopping = true;
    const ids = [...this.jobs.keys()];
    for (const { beat, handBack } of this.jobs.values()) {
      clearInterval(beat);
      handBack();
    }
    this.jobs.clear();
    for (const id of ids) {
      try {
        await release(id);
        logger.info({ id }, `${this.noun} handed back for another process (shutdown)`);
      } catch (err) {
        logger.warn({ id, err }, `handing a ${this.noun} back failed; it is retried at expiry`);
      }
    }
  }
}
