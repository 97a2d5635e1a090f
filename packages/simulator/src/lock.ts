// One simulation at a time on a machine. Simulations are CPU-heavy and time-compressed (a 15 s client
// timeout is 250 ms of real time at ×60): two at once on a 2-core machine starve the simulated clients
// into real timeouts, and the data shows an incident that was never injected. A lock directory holding the
// owner's pid; a dead owner's lock is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SIMULATION_LOCK = join(tmpdir(), 'mp-otel-simulation.lock');

export async function withMachineLock<T>(
  fn: () => Promise<T>,
  lock = SIMULATION_LOCK,
  waitMs = 600_000,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {}
      let alive = owner > 0;
      if (alive) {
        try {
          process.kill(owner, 0);
        } catch {
          alive = false;
        }
      }
      if (!alive && owner > 0) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`${lock} held too long by pid ${owner}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  // released on the way out of a process a signal ends mid-run too (the CLI runs the 'exit' listeners)
  const release = () => rmSync(lock, { recursive: true, force: true });
  process.once('exit', release);
  try {
    return await fn();
  } finally {
    process.off('exit', release);
    release();
  }
}
