import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

export interface FileToWrite {
  /** File name inside the directory (no separators). */
  name: string;
  content: string | Uint8Array;
  /** Permission bits, e.g. 0o600 for a private key. */
  mode: number;
}

/**
 * Replaces a set of files in `dir` so that readers never see a partial file and a failure leaves
 * the previous set as it was: every file is first written in full to a temporary name in the
 * same directory (same file system, so the rename is atomic), with its final mode, and flushed
 * to disk; only when all of them are staged are they renamed into place, then the directory is
 * flushed. Any failure while staging removes the temporary files and changes nothing.
 *
 * The renames are one per file, in the order given: a crash between two of them (not a write
 * error, which happens before any rename) can leave the set half switched. POSIX has no
 * multi-file rename; callers list the file that readers watch last.
 */
export async function writeFilesAtomically(dir: string, files: readonly FileToWrite[]): Promise<void> {
  const staged: { temp: string; target: string }[] = [];
  try {
    for (const file of files) {
      if (file.name !== path.basename(file.name)) throw new Error(`internal: ${file.name} is not a plain file name`);
      const temp = path.join(dir, `.${file.name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
      // 'wx': never follow or reuse something already at the temporary name.
      const handle = await open(temp, 'wx', file.mode);
      staged.push({ temp, target: path.join(dir, file.name) });
      try {
        // The umask may have narrowed the mode at creation; set it exactly.
        await handle.chmod(file.mode);
        await handle.writeFile(file.content);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  } catch (error) {
    await Promise.all(staged.map(({ temp }) => rm(temp, { force: true })));
    throw error;
  }
  for (const [index, { temp, target }] of staged.entries()) {
    try {
      await rename(temp, target);
    } catch (error) {
      await Promise.all(staged.slice(index).map((left) => rm(left.temp, { force: true })));
      throw error;
    }
  }
  await syncDirectory(dir);
}

/** Flushes the directory entry changes (the renames) so that they survive a crash. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on directories; the renames are still atomic.
  } finally {
    await handle.close();
  }
}
