// scripts/check-lockfile.mjs's manifest comparison (the part that needs no npm): the repository's own lock is
// in step with its package.json files, and each kind of drift is reported. (`npm run lint` runs the script,
// which adds `npm ci --dry-run --offline` over a copy.)
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lockDrift, readManifests } from '../scripts/check-lockfile.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

type Manifests = Parameters<typeof lockDrift>[0];
type Lock = Parameters<typeof lockDrift>[1];

/** A root with two workspaces, and the lock `npm install` writes for it. */
function inStep(): { manifests: Manifests; lock: Lock } {
  const manifests: Manifests = {
    '': { name: 'mono', workspaces: ['packages/a', 'packages/b'], devDependencies: { vitest: '4.1.12' } },
    'packages/a': { name: '@x/a', version: '0.1.0', dependencies: { yaml: '2.9.1' } },
    'packages/b': {
      name: '@x/b',
      version: '0.1.0',
      dependencies: { '@x/a': '0.1.0' },
      peerDependencies: { react: '>=18' },
    },
  };
  const lock: Lock = {
    lockfileVersion: 3,
    packages: {
      '': { name: 'mono', workspaces: ['packages/a', 'packages/b'], devDependencies: { vitest: '4.1.12' } },
      'node_modules/@x/a': { resolved: 'packages/a', link: true },
      'node_modules/@x/b': { resolved: 'packages/b', link: true },
      'node_modules/yaml': { version: '2.9.1' },
      'node_modules/vitest': { version: '4.1.12' },
      'packages/a': { name: '@x/a', version: '0.1.0', dependencies: { yaml: '2.9.1' } },
      'packages/b': {
        name: '@x/b',
        version: '0.1.0',
        dependencies: { '@x/a': '0.1.0' },
        peerDependencies: { react: '>=18' },
      },
      'packages/b/node_modules/yaml': { version: '1.10.2' },
    },
  };
  return { manifests, lock };
}

describe('check-lockfile', () => {
  it("finds the repository's package-lock.json in step with every package.json", () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
    const manifests = readManifests(root);
    expect(Object.keys(manifests).length).toBeGreaterThan(5);
    expect(lockDrift(manifests, lock)).toEqual([]);
  });

  it('accepts a lock in step (nested node_modules entries included)', () => {
    const { manifests, lock } = inStep();
    expect(lockDrift(manifests, lock)).toEqual([]);
  });

  it('reports a dependency added, removed or changed in a workspace', () => {
    const { manifests, lock } = inStep();
    const a = manifests['packages/a']!;
    a.dependencies = { yaml: '2.9.0', pino: '8.21.0' };
    manifests['packages/b']!.peerDependencies = {};
    expect(lockDrift(manifests, lock)).toEqual([
      'packages/a/package.json: dependencies.yaml is 2.9.0, the lock says 2.9.1',
      'packages/a/package.json: dependencies.pino 8.21.0 is missing from the lock',
      'packages/b/package.json: peerDependencies.react is gone, the lock still has >=18',
    ]);
  });

  it("reports a change to the root's devDependencies", () => {
    const { manifests, lock } = inStep();
    manifests['']!.devDependencies = { vitest: '4.1.12', typescript: '5.9.3' };
    expect(lockDrift(manifests, lock)).toEqual([
      'the root package.json: devDependencies.typescript 5.9.3 is missing from the lock',
    ]);
  });

  it('reports a workspace re-versioned, renamed, added or removed', () => {
    const { manifests, lock } = inStep();
    manifests['packages/a']!.version = '0.2.0';
    manifests['packages/b']!.name = '@x/bee';
    expect(lockDrift(manifests, lock)).toEqual([
      'packages/a/package.json: version is 0.2.0, the lock says 0.1.0',
      'packages/b/package.json: name is @x/bee, the lock says @x/b',
      'packages/b/package.json: the lock does not link node_modules/@x/bee to packages/b',
    ]);

    const added = inStep();
    added.manifests['']!.workspaces = ['packages/a', 'packages/b', 'packages/c'];
    added.manifests['packages/c'] = { name: '@x/c', version: '0.1.0' };
    expect(lockDrift(added.manifests, added.lock)).toEqual([
      "the root package.json: workspaces differ from the lock's (packages/a, packages/b)",
      'packages/c/package.json: the lock has no entry for this workspace',
    ]);

    const removed = inStep();
    removed.manifests['']!.workspaces = ['packages/a'];
    delete removed.manifests['packages/b'];
    expect(lockDrift(removed.manifests, removed.lock)).toEqual([
      "the root package.json: workspaces differ from the lock's (packages/a, packages/b)",
      'package-lock.json: an entry for packages/b, which is not a workspace',
    ]);
  });
});
