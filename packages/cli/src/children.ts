// The CLI's own child processes (the simulator's image-service nodes…), found by parent pid in /proc, so a
// SIGTERM to `mp-otel demo` / `simulate` stops them too instead of leaving them running. Linux only
// (elsewhere nothing is found and nothing is signalled). Only direct children of this process are signalled.
import { readdirSync, readFileSync } from 'node:fs';

export function childPids(parent = process.pid): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may contain spaces and parentheses
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === parent) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** Whether a process exists (signal 0). */
export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM to every child, then SIGKILL to those still running after `graceMs`. */
export async function stopChildren(graceMs = 10_000): Promise<number[]> {
  const pids = childPids();
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const p of pids.filter(alive)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return pids;
}

/**
 * Runs `fn`; a SIGINT/SIGTERM meanwhile stops this process's children, runs `cleanup`, then dies of the
 * same signal (a shell reports 130 / 143). Re-raising with the default action, rather than
 * process.exit(), also skips the C++ static destructors that exit() runs: chDB's sometimes crash
 * (SIGSEGV) when the engine was stopped mid-ingest, which turned a clean stop into a segfault.
 */
export async function withTermination<T>(fn: () => Promise<T>, cleanup: () => Promise<void>): Promise<T> {
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`mp-otel: ${sig}: stopping child processes and closing the store…\n`);
    void (async () => {
      await stopChildren().catch(() => []);
      await cleanup().catch(() => undefined);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const code = sig === 'SIGINT' ? 130 : 143;
      // with no listener left Node restores the default action, which ends the process (the kernel may
      // deliver it to another thread a moment later: the fallback only runs if it never comes). If some
      // other listener still holds the signal, exit with the code a shell would report.
      if (process.listenerCount(sig) > 0) process.exit(code);
      // the 'exit' listeners (scratch files of the row writer…) still run; only the C++ ones are skipped
      process.exitCode = code;
      try {
        process.emit('exit', code);
      } catch {
        // a listener failed: the process ends all the same
      }
      setTimeout(() => process.exit(code), 5000);
      process.kill(process.pid, sig);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
