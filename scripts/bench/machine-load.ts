import { readdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';

/** Linux reports /proc times in USER_HZ ticks, 100 per second on every mainstream architecture. */
const USER_HZ = 100;

export interface CpuSnapshot {
  at: number;
  /** Busy CPU time of the whole machine (user, nice, system, irq, softirq), seconds. */
  machineBusy: number;
  /** CPU time of this process and its descendants (server, PostgreSQL), reaped children included, seconds. */
  ours: number;
}

interface ProcStat {
  ppid: number;
  /** utime + stime + cutime + cstime, in ticks. */
  ticks: number;
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // Fields after "pid (comm) ": state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
  return { ppid: Number(fields[1]), ticks };
}

/** Busy CPU time of the whole machine so far (user, nice, system, irq, softirq), seconds. */
export async function machineBusySeconds(): Promise<number> {
  const stat = await readFile('/proc/stat', 'utf8');
  const [, user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = (stat.split('\n')[0] ?? '').trim().split(/\s+/).map(Number);
  return (user + nice + system + irq + softirq) / USER_HZ;
}

/** The machine's busy time and ours, so that the report can tell how much other processes took. */
export async function cpuSnapshot(): Promise<CpuSnapshot> {
  const at = performance.now();
  const machineBusy = await machineBusySeconds();
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = new Map<number, ProcStat>();
  await Promise.all(
    pids.map(async (pid) => {
      const entry = await procStat(pid);
      if (entry) stats.set(pid, entry);
    }),
  );
  const children = new Map<number, number[]>();
  for (const [pid, entry] of stats) children.set(entry.ppid, [...(children.get(entry.ppid) ?? []), pid]);
  let ticks = 0;
  const pending = [process.pid];
  while (pending.length > 0) {
    const pid = pending.pop() ?? 0;
    ticks += stats.get(pid)?.ticks ?? 0;
    pending.push(...(children.get(pid) ?? []));
  }
  return { at, machineBusy, ours: ticks / USER_HZ };
}

/**
 * The share (0–1) of the machine's CPU capacity that processes other than this benchmark and
 * its children used between two snapshots: near 0 on a quiet machine.
 */
export function otherCpuShare(from: CpuSnapshot, to: CpuSnapshot): number {
  const capacity = ((to.at - from.at) / 1000) * cpus().length;
  const other = to.machineBusy - from.machineBusy - (to.ours - from.ours);
  return capacity > 0 ? Math.min(1, Math.max(0, other / capacity)) : 0;
}
