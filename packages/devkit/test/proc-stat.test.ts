import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../src/index.js';
import { procStat, threadStats } from '../src/proc-stat.js';

const linux = process.platform === 'linux';
const dir = mkdtempSync(join(tmpdir(), 'mp-otel-proc-stat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.runIf(linux)('procStat', () => {
  it('reads a command name holding spaces and parentheses, its parent, and nothing once it is gone', async () => {
    // the kernel's name is the executable's file name: a link to sleep named like a trap for the parser
    const exe = join(dir, 'a) b (c) 1 2');
    symlinkSync('/bin/sleep', exe);
    const child = spawn(exe, ['30'], { stdio: 'ignore' });
    const pid = child.pid as number;
    await waitFor(() => procStat(`/proc/${pid}`)?.name === 'a) b (c) 1 2', 10_000, 'the child to exec');
    const s = procStat(`/proc/${pid}`);
    expect(s?.ppid).toBe(process.pid);
    expect(s?.nice).toBe(0);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    await waitFor(() => procStat(`/proc/${pid}`) === undefined, 10_000, 'the child to be reaped');
  });

  it("counts this process's CPU time and lists its threads, the main one by the process id", () => {
    const before = procStat('/proc/self')?.cpuSeconds as number;
    let x = 0;
    for (let i = 0; procStat('/proc/self')!.cpuSeconds < before + 0.05; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    const threads = threadStats();
    expect(threads.get(String(process.pid))?.ppid).toBe(process.ppid);
    expect(threads.size).toBeGreaterThan(1); // libuv's and V8's threads
    expect(procStat('/proc/self')!.cpuSeconds).toBeGreaterThanOrEqual(before + 0.05);
  });
});
