import pg from 'pg';
import { poolConfigFromUrl } from './pool-config.ts';

export interface WaitForDatabaseOptions {
  /** Total budget in seconds before giving up. */
  timeoutSeconds: number;
  /** Called before each retry with the attempt number, the delay in ms and the last error. */
  onRetry?: (attempt: number, delayMs: number, error: Error) => void;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const INITIAL_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;

/**
 * Waits until PostgreSQL accepts a connection, retrying with exponential backoff for at most
 * `timeoutSeconds`; then throws an error that names the server and the last failure.
 */
export async function waitForDatabase(connectionString: string, options: WaitForDatabaseOptions): Promise<void> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutSeconds * 1000;
  const config = poolConfigFromUrl(connectionString);
  let delay = INITIAL_DELAY_MS;
  for (let attempt = 1; ; attempt += 1) {
    const client = new pg.Client({ ...config, connectionTimeoutMillis: Math.min(5_000, options.timeoutSeconds * 1000) });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      const remaining = deadline - now();
      if (remaining <= 0) {
        const where = `${config.host ?? 'localhost'}:${config.port ?? 5432}/${config.database ?? ''}`;
        throw new Error(`cannot reach PostgreSQL at ${where} after ${options.timeoutSeconds}s: ${failure.message}`);
      }
      const wait = Math.min(delay, remaining);
      options.onRetry?.(attempt, wait, failure);
      await sleep(wait);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
