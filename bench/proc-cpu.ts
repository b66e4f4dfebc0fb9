/**
 * Where the CPU went, read from Linux /proc (null elsewhere). On a shared 2-core machine the server,
 * the load and PostgreSQL compete for the same cores: these say which one was busy. Used by the
 * benchmarks that print CPU per item.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** utime + stime (+ reaped children's, for PostgreSQL's postmaster) of one process, in ms. */
export function procCpuMs(pid: number | string, withChildren = false): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
    return ticks * 10; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** Every postgres process's CPU, backends that have exited included (the postmaster reaps them). */
export function postgresCpuMs(): number | null {
  let total = 0;
  let found = false;
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let comm: string;
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        continue;
      }
      if (comm !== 'postgres') continue;
      const ms = procCpuMs(pid, true);
      if (ms !== null) {
        total += ms;
        found = true;
      }
    }
  } catch {
    return null;
  }
  return found ? total : null;
}

/** Busy and total jiffies of the whole machine. */
export function machineTicks(): { busy: number; total: number } | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - cpu[3]! - cpu[4]!, total };
  } catch {
    return null;
  }
}
