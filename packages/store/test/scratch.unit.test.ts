// The receiver's scratch files (rowbinary.ts): in a directory of the process's own that nobody else could
// have made first, and the directories of processes killed before their exit handler ran are swept.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepScratchDirs, writeScratch } from '../src/otlp/rowbinary.js';
import { tempDir } from './temp-dir.js';

describe('scratch directories', () => {
  it("writes into a directory of this process's own: mode 0700, a name with a random part", async () => {
    const s = await writeScratch([Buffer.from('x')]);
    try {
      const dir = dirname(s.file);
      expect(dirname(dir)).toBe(tmpdir());
      expect(basename(dir)).toMatch(new RegExp(`^mp-otel-rowbinary-${process.pid}-[A-Za-z0-9]{6}$`));
      expect(statSync(dir).mode & 0o777).toBe(0o700);
    } finally {
      s.release(false);
    }
  });

  it('removes those of processes that are gone and untouched for an hour, and leaves the rest alone', async () => {
    const parent = tempDir('mp-otel-sweep-');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid as number; // exited: its pid is free
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const dirs = {
        goneNew: `mp-otel-rowbinary-${gone}-AbC123`,
        goneOld: `mp-otel-rowbinary-${gone}`, // the name before the random part
        goneFresh: `mp-otel-rowbinary-${gone}-Fresh1`, // written to within the hour
        live: `mp-otel-rowbinary-${live.pid}-XyZ789`,
        mine: `mp-otel-rowbinary-${process.pid}-Mine01`,
        other: `mp-otel-bench-${gone}`,
      };
      for (const d of Object.values(dirs)) {
        mkdirSync(join(parent, d));
        writeFileSync(join(parent, d, 'scratch-1.bin'), 'rows');
      }
      // a symlink named like a dead process's directory: the link is not followed into its target
      const target = tempDir('mp-otel-sweep-target-');
      writeFileSync(join(target, 'keep'), 'x');
      symlinkSync(target, join(parent, `mp-otel-rowbinary-${gone}-Link01`));

      const left = (d: string) => {
        try {
          statSync(join(parent, d));
          return true;
        } catch {
          return false;
        }
      };
      // untouched for less than an hour: kept (a process this one cannot see may still use it)
      expect(sweepScratchDirs(parent)).toBe(0);
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      for (const d of [dirs.goneNew, dirs.goneOld, dirs.live, dirs.mine, dirs.other]) {
        utimesSync(join(parent, d, 'scratch-1.bin'), twoHoursAgo, twoHoursAgo);
        utimesSync(join(parent, d), twoHoursAgo, twoHoursAgo);
      }
      expect(sweepScratchDirs(parent)).toBe(2);
      expect(left(dirs.goneFresh)).toBe(true);
      expect(sweepScratchDirs(parent, 0)).toBe(1);
      expect(left(dirs.goneFresh)).toBe(false);
      expect(left(dirs.goneNew)).toBe(false);
      expect(left(dirs.goneOld)).toBe(false);
      expect(left(dirs.live)).toBe(true);
      expect(left(dirs.mine)).toBe(true);
      expect(left(dirs.other)).toBe(true);
      expect(statSync(join(target, 'keep')).isFile()).toBe(true);
      expect(sweepScratchDirs(join(parent, 'missing'), 0)).toBe(0);
    } finally {
      live.kill();
    }
  });
});
