import cron, { type ScheduledTask } from 'node-cron';
import type { JobName, JobRunner } from '../app/job-runner.ts';

export type JobSchedules = Record<JobName, string>;

export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

/** Throws a `ScheduleError` naming the job whose cron expression node-cron does not accept. */
export function validateSchedules(schedules: JobSchedules): void {
  for (const [job, expression] of Object.entries(schedules)) {
    if (!cron.validate(expression)) {
      const variable = `TRUSTROOT_CRON_${job.toUpperCase().replaceAll('-', '_')}`;
      throw new ScheduleError(`the cron expression ${JSON.stringify(expression)} of job ${job} (${variable}) is invalid`);
    }
  }
}

/**
 * node-cron drives the ticks; each tick hands its scheduled time to the JobRunner, which
 * decides (through the database) whether this replica runs it. Nothing else happens here.
 */
export class JobScheduler {
  private readonly tasks: ScheduledTask[] = [];

  constructor(
    private readonly runner: JobRunner,
    private readonly schedules: JobSchedules,
  ) {
    validateSchedules(schedules);
  }

  start(): void {
    for (const [job, expression] of Object.entries(this.schedules) as [JobName, string][]) {
      this.tasks.push(
        cron.schedule(expression, async (context) => {
          await this.runner.tick(job, context.date);
        }, { name: `trustroot:${job}`, noOverlap: false }),
      );
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.tasks.map(async (task) => task.destroy()));
    this.tasks.length = 0;
  }
}
