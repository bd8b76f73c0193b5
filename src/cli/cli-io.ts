/**
 * Where a command reads its environment and writes its output: results on stdout (tables, or
 * JSON with `--json`), messages and progress on stderr — so that `$(trustroot …)` captures only
 * the result. Injected so that commands can run in-process in tests.
 */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** The real process's streams and environment. */
export function processIo(): CliIo {
  return { env: process.env, stdout: process.stdout, stderr: process.stderr };
}
