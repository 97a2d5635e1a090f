// Linux's /proc/<pid>/stat (or /proc/<pid>/task/<tid>/stat) read the one way the tests, benches and scripts
// need it: CPU time, niceness, parent. The command name may hold spaces and parentheses, so the fields are
// counted from its last ')'. Linux only: elsewhere nothing is read.
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  /** the command (thread) name, as the kernel holds it (15 characters at most) */
  name: string;
  ppid: number;
  /** user + system CPU seconds (clock ticks at Linux's fixed USER_HZ of 100) */
  cpuSeconds: number;
  nice: number;
}

/** The stat under `dir` (`/proc/123`, `/proc/self/task/456`); undefined once it is gone, or not on Linux. */
export function procStat(dir: string): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`${dir}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = stat.lastIndexOf(')');
  // after the name: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice …
  const f = stat.slice(close + 2).split(' ');
  return {
    name: stat.slice(stat.indexOf('(') + 1, close),
    ppid: Number(f[1]),
    cpuSeconds: (Number(f[11]) + Number(f[12])) / 100,
    nice: Number(f[16]),
  };
}

/** Each thread of a process by thread id (empty when not on Linux). */
export function threadStats(pid: number | 'self' = 'self'): Map<string, ProcStat> {
  const out = new Map<string, ProcStat>();
  const dir = `/proc/${pid}/task`;
  if (!existsSync(dir)) return out;
  for (const tid of readdirSync(dir)) {
    const s = procStat(`${dir}/${tid}`); // undefined: the thread ended between the listing and the read
    if (s) out.set(tid, s);
  }
  return out;
}
