/**
 * Set-up file of both projects: when a test file ends, records the CPU time its test process used
 * (user + system, its import included) and that of the child processes it started and reaped
 * (`rivulet` commands, `serve`, Chromium), as the file's `meta`, for summary-reporter.ts. On a
 * shared, busy machine wall times swing with the load; CPU times are what the suite costs.
 * The PostgreSQL server's own CPU is not counted (it is not a child).
 */
import { readFileSync } from 'node:fs';
import { afterAll } from 'vitest';

/** The CPU of the reaped children (cutime + cstime of /proc/self/stat), ms; 0 off Linux. */
function childrenCpuMs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, cutime 16, cstime 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) * 10; // clock ticks of 10 ms (USER_HZ 100)
  } catch {
    return 0;
  }
}

// Vitest reads the first parameter's destructuring pattern to know which fixtures to set up: none.
afterAll(({}, file) => {
  const own = process.cpuUsage();
  Object.assign(file.meta, { cpuMs: Math.round((own.user + own.system) / 1000), childCpuMs: childrenCpuMs() });
});
