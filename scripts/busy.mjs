#!/usr/bin/env node
// Runs a command on a busy machine: two CPU-bound processes (`node -e "for(;;){}"`) spin beside it for
// its whole run, then are killed. The verdicts of the simulated incidents must not depend on how busy the
// machine is, so `npm run test:busy` runs the simulator's acceptance suite (every shipped scenario, its
// assertions unchanged) this way. Prints the load average seen (sampled every 5 s) and the CPU time the
// burners got, and exits with the command's code — or 1 if a burner died early (then the load was not
// there and the run proves nothing).
//
//   node scripts/busy.mjs [--burners N] [-- command args…]
//   default command: npx vitest run packages/simulator/test/acceptance.test.ts
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procStat } from '@mp-otel/devkit';
import { SIMULATION_LOCK } from '@mp-otel/simulator';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let burnersWanted = 2;
const bi = args.indexOf('--burners');
if (bi >= 0) {
  burnersWanted = Number(args[bi + 1]);
  args.splice(bi, 2);
  if (!Number.isInteger(burnersWanted) || burnersWanted < 0) {
    console.error('busy: --burners takes a whole number');
    process.exit(2);
  }
}
const dash = args.indexOf('--');
const command =
  dash >= 0
    ? args.slice(dash + 1)
    : ['npx', 'vitest', 'run', 'packages/simulator/test/acceptance.test.ts', ...args];
if (command.length === 0) {
  console.error('busy: no command after --');
  process.exit(2);
}

/**
 * CPU seconds a process has used (Linux /proc; undefined elsewhere).
 * @param {number | undefined} pid
 */
function cpuSeconds(pid) {
  return procStat(`/proc/${pid}`)?.cpuSeconds;
}

// Another simulation on this machine (another checkout's tests) holds the lock: the command would only wait
// for it, so the burners start once it is free (best effort: it may be taken again meanwhile).
const lockOwner = () => {
  try {
    const pid = Number(readFileSync(join(SIMULATION_LOCK, 'pid'), 'utf8'));
    process.kill(pid, 0);
    return pid;
  } catch {
    return existsSync(SIMULATION_LOCK) ? -1 : 0;
  }
};
for (let waited = 0, owner = lockOwner(); owner > 0 && waited < 900; owner = lockOwner(), waited += 2) {
  if (waited === 0) console.log(`busy: waiting for another simulation (pid ${owner}) to finish first`);
  await new Promise((r) => setTimeout(r, 2_000));
}

const burners = Array.from({ length: burnersWanted }, () =>
  spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }),
);
let burnerDied = false;
for (const b of burners)
  b.once('exit', () => {
    if (!stopping) burnerDied = true;
  });
let stopping = false;
const startedAt = Date.now();
/** The 1-minute load average (os.loadavg() always returns three numbers). */
const load1 = () => /** @type {number} */ (loadavg()[0]);
const samples = [load1()];
const sampler = setInterval(() => samples.push(load1()), 5_000);
console.log(
  `busy: ${burners.length} CPU burners (pids ${burners.map((b) => b.pid).join(', ')}) beside: ${command.join(' ')} — ${cpus().length} cores, load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);

// its own process group, so that a signal reaches the whole tree (npx → vitest → its workers → the nodes);
// command is not empty (checked above)
const child = spawn(/** @type {string} */ (command[0]), command.slice(1), {
  cwd: root,
  stdio: 'inherit',
  detached: true,
});
const signalChild = (/** @type {NodeJS.Signals} */ sig) => {
  try {
    process.kill(-(/** @type {number} */ (child.pid)), sig);
  } catch {}
};
const stop = () => {
  stopping = true;
  clearInterval(sampler);
  const cpu = burners.map((b) => cpuSeconds(b.pid));
  for (const b of burners) if (b.exitCode === null) b.kill('SIGKILL');
  return cpu;
};
process.on('exit', () => {
  for (const b of burners) if (b.exitCode === null) b.kill('SIGKILL');
});
process.on('SIGINT', () => signalChild('SIGINT'));
process.on('SIGTERM', () => signalChild('SIGTERM'));
child.on('exit', (code, signal) => {
  const cpu = stop();
  const wall = (Date.now() - startedAt) / 1000;
  samples.push(load1());
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  console.log(
    `busy: ${wall.toFixed(0)} s; 1-min load average min ${Math.min(...samples).toFixed(2)}, mean ${mean.toFixed(2)}, max ${Math.max(...samples).toFixed(2)} (${samples.length} samples); burners' CPU ${cpu.map((c) => (c === undefined ? '?' : `${c.toFixed(0)} s`)).join(', ')} of ${wall.toFixed(0)} s each`,
  );
  if (burnerDied) {
    console.error('busy: a burner died before the command finished: the machine was not kept busy');
    process.exit(1);
  }
  process.exit(signal ? 1 : (code ?? 1));
});
