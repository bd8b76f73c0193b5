import { Worker } from 'node:worker_threads';

/**
 * `migrateDatabase` in a short-lived worker thread. The schema engine is a WASM module of some
 * 40 MB that a server needs once, at start; in a thread of its own, all of that memory is
 * returned when the thread exits instead of staying in the server for its whole life.
 */
export function migrateDatabaseInWorker(connectionString: string): Promise<string[]> {
  // Run from src/ under tsx the worker is a .ts file; compiled, it is .js next to this one.
  // Under tsx (run from src/) a worker does not get the loader, so its first act is to register it.
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./migration-worker${fromSource ? '.ts' : '.js'}`, import.meta.url).href;
  const boot = fromSource
    ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`
    : `import(${JSON.stringify(entry)})`;
  const worker = new Worker(boot, { eval: true, workerData: { connectionString } });
  return new Promise<string[]>((resolve, reject) => {
    let answered = false;
    worker.once('message', (message: { applied?: string[]; error?: { message: string; stack?: string } }) => {
      answered = true;
      if (message.error) reject(Object.assign(new Error(message.error.message), { stack: message.error.stack }));
      else resolve(message.applied ?? []);
    });
    worker.once('error', (error) => {
      answered = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the migration worker exited with code ${code} without an answer`));
    });
  });
}
