import type { JobRunDto, SchedulerJobDto } from '../../contracts/lifecycle.ts';
import { formatDuration } from '../../client/parse-duration.ts';
import type { CliCommand } from '../cli-command.ts';
import { CliFailure } from '../cli-failure.ts';
import { connectToCa, connectionOptions, requireToken, TOKEN_OPTIONS } from '../connect-to-ca.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatTable, writeJson, writeResult } from '../write-output.ts';

const JOBS: readonly SchedulerJobDto['job'][] = ['expiry-scan', 'mark-expired', 'crl-refresh', 'deliver-notifications'];

const took = (run: JobRunDto) => (run.durationMs !== undefined ? formatDuration(run.durationMs) : '-');

/** `trustroot scheduler`: the CA's scheduled jobs and how their last runs went. */
export const schedulerCommand: CliCommand = {
  path: ['scheduler'],
  summary: 'show the scheduled jobs, their schedules and last runs (admin, security, auditor)',
  synopsis: '[--job JOB] [options]',
  description: `
One row per job: its cron schedule and its latest run (whichever replica ran it). With --job, the
job's recent runs (up to 10, newest first). --json gives every job with its recent runs.`,
  groups: [
    { title: 'Options', options: { job: { type: 'string', value: 'JOB', description: `only this job's recent runs: ${JOBS.join(', ')}` } } },
    TOKEN_OPTIONS,
    connectionOptions('10s'),
  ],
  examples: ['trustroot scheduler', 'trustroot scheduler --job crl-refresh', 'trustroot scheduler --json'],
  async run(context) {
    const { options, io } = context;
    const only = options.choice('job', JOBS);
    const client = await connectToCa(context, { token: await requireToken(context, 'an API token') });
    const jobs = await client.schedulerStatus();
    if (only !== undefined) {
      const job = jobs.find((candidate) => candidate.job === only);
      if (job === undefined) throw new CliFailure(`the CA reports no job ${only}`);
      if (context.json) writeJson(io, job);
      else {
        writeResult(
          io,
          formatTable(
            ['SCHEDULED FOR', 'STARTED AT', 'OUTCOME', 'ITEMS', 'TOOK', 'ERROR'],
            job.recentRuns.map((run) => [run.scheduledFor, run.startedAt, run.outcome, String(run.items), took(run), run.error ?? '-']),
          ),
        );
      }
      return ExitCode.ok;
    }
    if (context.json) writeJson(io, jobs);
    else {
      writeResult(
        io,
        formatTable(
          ['JOB', 'SCHEDULE', 'LAST RUN', 'OUTCOME', 'ITEMS', 'TOOK', 'ERROR'],
          jobs.map((job) => {
            const last = job.recentRuns[0];
            if (last === undefined) return [job.job, job.schedule, 'never', '-', '-', '-', '-'];
            return [job.job, job.schedule, last.startedAt, last.outcome, String(last.items), took(last), last.error ?? '-'];
          }),
        ),
      );
    }
    return ExitCode.ok;
  },
};
