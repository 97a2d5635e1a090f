// The embedded receiver's node flags (node-flags.ts): which are missing from a process, that this node
// accepts them, and that `npm run demo` starts node with them (a contract restated in package.json).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@mp-otel/devkit';
import { describe, expect, it } from 'vitest';
import { EMBEDDED_NODE_FLAGS, missingNodeFlags } from '../src/node-flags.js';

describe('embedded node flags', () => {
  it('names the flags a process lacks, by name whatever the value or spelling', () => {
    expect(missingNodeFlags([])).toEqual([...EMBEDDED_NODE_FLAGS]);
    expect(missingNodeFlags(['--max-old-space-size=4096', '--inspect'])).toEqual([...EMBEDDED_NODE_FLAGS]);
    expect(missingNodeFlags([...EMBEDDED_NODE_FLAGS])).toEqual([]);
    expect(missingNodeFlags(['--initial-old-space-size=128'])).toEqual([]);
    expect(missingNodeFlags(['--initial_old_space_size=64'])).toEqual([]);
  });

  it("are accepted by this node and read from the process's own command line", () => {
    const script = `import('${join(repoRoot(), 'packages/store/dist/node-flags.js')}').then((m) => console.log(JSON.stringify(m.missingNodeFlags())))`;
    const run = (flags: readonly string[]) => {
      const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as string[];
    };
    expect(run(EMBEDDED_NODE_FLAGS)).toEqual([]);
    expect(run([])).toEqual([...EMBEDDED_NODE_FLAGS]);
  });

  it('`npm run demo` starts node with every one of them', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const node = /(?:^|&&\s*)node\s+((?:--\S+\s+)*)scripts\/demo\.mjs/.exec(pkg.scripts.demo ?? '');
    expect(node, pkg.scripts.demo).not.toBeNull();
    expect(missingNodeFlags(node![1]!.trim().split(/\s+/))).toEqual([]);
  });
});
