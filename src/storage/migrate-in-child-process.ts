import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * `migrateDatabase` in a short-lived child process. The schema engine is a WASM module of some
 * 40 MB that a server needs once, at start. A worker thread was not enough: the allocator kept
 * ~45 MB of the thread's memory in the server after it exited; a process gives all of it back.
 */
export function migrateDatabaseInChildProcess(connectionString: string): Promise<string[]> {
  // Run from src/ under tsx the entry is a .ts file that needs the loader; compiled, it is .js
  // next to this one. The parent's other Node options (--inspect, --cpu-prof…) are not passed on.
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(`./migration-process${fromSource ? '.ts' : '.js'}`, import.meta.url));
  const child = fork(entry, [], {
    execArgv: fromSource ? ['--import', 'tsx'] : [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'json',
  });
  child.send({ connectionString });
  return new Promise<string[]>((resolve, reject) => {
    let answered = false;
    child.once('message', (message: { applied?: string[]; error?: { message: string; stack?: string } }) => {
      answered = true;
      if (message.error) reject(Object.assign(new Error(message.error.message), { stack: message.error.stack }));
      else resolve(message.applied ?? []);
    });
    child.once('error', (error) => {
      answered = true;
      reject(error);
    });
    child.once('exit', (code, signal) => {
      if (!answered) reject(new Error(`the migration process exited (${signal ?? `code ${code}`}) without an answer`));
    });
  });
}
