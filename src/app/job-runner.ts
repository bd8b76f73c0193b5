import type { Clock } from '../domain/clock.ts';
import type { JobRunStore } from '../domain/ports.ts';

export type JobName = 'expiry-scan' | 'mark-expired' | 'crl-refresh' | 'deliver-notifications';

export const JOB_NAMES: readonly JobName[] = ['expiry-scan', 'mark-expired', 'crl-refresh', 'deliver-notifications'];

/** One job's work: returns how many items it handled. */
export type JobWork = () => Promise<number>;

export interface JobRunObserver {
  jobRun(job: string, outcome: 'succeeded' | 'failed' | 'skipped', seconds: number, items: number): void;
}

export interface JobRunLog {
  error(details: Record<string, unknown>, message: string): void;
}

/** An unfinished run older than this is presumed dead (its replica crashed) and no longer blocks. */
const STALE_RUN_MS = 15 * 60_000;

export type TickOutcome = 'succeeded' | 'failed' | 'skipped';

/**
 * Runs scheduled jobs so that, with many replicas on one database, each tick runs exactly once:
 * the tick is claimed in the database (unique per job and scheduled time, under the job's
 * advisory lock), a run still in progress makes later ticks skip rather than stack, and every
 * run is recorded with its duration, outcome and item count.
 */
export class JobRunner {
  private readonly running = new Set<JobName>();

  constructor(
    private readonly runs: JobRunStore,
    private readonly work: Record<JobName, JobWork>,
    private readonly clock: Clock,
    private readonly observer: JobRunObserver | undefined,
    private readonly log: JobRunLog,
  ) {}

  /** Runs `job` for the tick scheduled at `scheduledFor` (whole seconds), unless another run has it. */
  async tick(job: JobName, scheduledFor: Date): Promise<TickOutcome> {
    if (this.running.has(job)) {
      this.observer?.jobRun(job, 'skipped', 0, 0);
      return 'skipped';
    }
    this.running.add(job);
    try {
      const startedAt = this.clock.now();
      const tick = new Date(Math.floor(scheduledFor.getTime() / 1000) * 1000);
      const runId = await this.runs.claim(job, tick, startedAt, new Date(startedAt.getTime() - STALE_RUN_MS));
      if (!runId) {
        this.observer?.jobRun(job, 'skipped', 0, 0);
        return 'skipped';
      }
      let outcome: 'succeeded' | 'failed' = 'succeeded';
      let items = 0;
      let failure: string | undefined;
      try {
        items = await this.work[job]();
      } catch (error) {
        outcome = 'failed';
        failure = error instanceof Error ? error.message : String(error);
        this.log.error({ job, err: error }, 'scheduled job failed');
      }
      const finishedAt = this.clock.now();
      await this.runs.finish(runId, outcome, finishedAt, items, failure);
      this.observer?.jobRun(job, outcome, (finishedAt.getTime() - startedAt.getTime()) / 1000, items);
      return outcome;
    } finally {
      this.running.delete(job);
    }
  }
}
