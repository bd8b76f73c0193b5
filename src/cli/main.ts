import { processIo } from './cli-io.ts';
import { runCli } from './run-cli.ts';

/**
 * Entry point of the `trustroot` CLI (bin/trustroot.mjs loads it through tsx). The exit code is
 * set rather than forced, so that buffered stdout is flushed before the process ends.
 */
process.exitCode = await runCli(process.argv.slice(2), processIo());
