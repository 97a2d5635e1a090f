// scripts/check-layers.mjs on small fake workspaces written to a temporary folder: each rule reported with
// its file and line, and a clean workspace passes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLayers, findCycles, formatViolation, loadWorkspaces, RULES } from '../scripts/check-layers.mjs';

interface FakePackage {
  layer?: number;
  bundled?: boolean;
  dependencies?: string[];
  devDependencies?: string[];
  peerDependencies?: string[];
  exports?: Record<string, string>;
  /** path inside the package → content */
  files?: Record<string, string>;
}

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function versions(names: string[] | undefined): Record<string, string> | undefined {
  return names && Object.fromEntries(names.map((n) => [n, '1.0.0']));
}

/** Writes a workspace of packages under packages/<short name> and returns its root. */
function workspace(
  packages: Record<string, FakePackage>,
  rootDevDependencies: string[] = ['vitest'],
): string {
  const root = mkdtempSync(join(tmpdir(), 'check-layers-'));
  roots.push(root);
  const write = (path: string, text: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  };
  const dirs = Object.keys(packages).map((name) => `packages/${name.split('/').pop()}`);
  write(
    join(root, 'package.json'),
    JSON.stringify({
      name: 'fake',
      private: true,
      workspaces: dirs,
      devDependencies: versions(rootDevDependencies),
    }),
  );
  for (const [name, p] of Object.entries(packages)) {
    const dir = join(root, 'packages', name.split('/').pop()!);
    const config =
      p.layer === undefined ? undefined : { layer: p.layer, ...(p.bundled ? { bundled: true } : {}) };
    write(
      join(dir, 'package.json'),
      JSON.stringify({
        name,
        version: '1.0.0',
        exports: p.exports,
        dependencies: versions(p.dependencies),
        devDependencies: versions(p.devDependencies),
        peerDependencies: versions(p.peerDependencies),
        'mp-otel': config,
      }),
    );
    for (const [file, text] of Object.entries(p.files ?? { 'src/index.ts': 'export const x = 1;\n' })) {
      write(join(dir, file), text);
    }
  }
  return root;
}

function lines(root: string): string[] {
  return checkLayers(root).map(formatViolation);
}

describe('check-layers', () => {
  it('passes a workspace that keeps the rules', () => {
    const root = workspace({
      '@x/contracts': { layer: 0, dependencies: ['yaml'], files: { 'src/index.ts': "import 'yaml';\n" } },
      '@x/store': {
        layer: 1,
        dependencies: ['@x/contracts'],
        devDependencies: ['@x/grafana'],
        files: {
          'src/index.ts': [
            "import { readFileSync } from 'node:fs';",
            "import path from 'path';",
            "import { x } from '@x/contracts';",
            "import { y } from './inner/y.js';",
            "const here = path.dirname(new URL('.', import.meta.url).pathname);",
            "export const data = readFileSync(path.join(here, '..', 'data.sql'), 'utf8') + x + y;",
            "export const nested = new URL('../migrations/', import.meta.url);",
            '',
          ].join('\n'),
          'src/inner/y.ts': "export const y = import.meta.resolve('./y.js');\n",
          'test/store.test.ts':
            "import { it } from 'vitest';\nimport '@x/grafana';\nimport '../src/index.js';\nit('x', () => {});\n",
        },
      },
      '@x/grafana': { layer: 1, dependencies: ['@x/contracts'] },
      '@x/sim': { layer: 2, dependencies: ['@x/store', '@x/contracts'] },
    });
    expect(lines(root)).toEqual([]);
  });

  it('reports a src import of a sibling (same layer) and of a higher layer, with file and line', () => {
    const root = workspace({
      '@x/contracts': { layer: 0 },
      '@x/store': { layer: 1, dependencies: ['@x/contracts'] },
      '@x/diagnose': {
        layer: 1,
        dependencies: ['@x/store', '@x/sim'],
        files: { 'src/index.ts': "// header\nimport { a } from '@x/store';\nexport * from '@x/sim/deep';\n" },
      },
      '@x/sim': { layer: 2, dependencies: ['@x/store'] },
    });
    const found = checkLayers(root);
    const upward = found.filter((v) => v.rule === RULES.upward && v.file.endsWith('.ts'));
    expect(upward.map(formatViolation)).toEqual([
      'packages/diagnose/src/index.ts:2: [upward-import] @x/diagnose (layer 1) imports @x/store (layer 1): src may import only lower layers',
      'packages/diagnose/src/index.ts:3: [upward-import] @x/diagnose (layer 1) imports @x/sim (layer 2): src may import only lower layers',
    ]);
    // the runtime dependencies themselves point the wrong way too
    expect(
      found.filter((v) => v.rule === RULES.upward && v.file === 'packages/diagnose/package.json'),
    ).toHaveLength(2);
  });

  it('lets tests import any declared workspace package, whatever its layer', () => {
    const root = workspace({
      '@x/contracts': {
        layer: 0,
        devDependencies: ['@x/store'],
        files: { 'test/a.test.ts': "import '@x/store';\n" },
      },
      '@x/store': { layer: 1 },
    });
    expect(lines(root)).toEqual([]);
  });

  it('reports relative imports and runtime paths that leave the package', () => {
    const root = workspace({
      '@x/store': {
        layer: 1,
        files: {
          'src/a.ts': [
            "import { b } from '../../other/src/b.js';",
            "export const catalog = new URL('../../../catalog/catalog.yaml', import.meta.url);",
            "import { dirname, join, resolve } from 'node:path';",
            "import { fileURLToPath } from 'node:url';",
            'const here = dirname(fileURLToPath(import.meta.url));',
            "export const root = resolve(here, '..', '..', '..');",
            "export const up = join(here, '../../x');",
            "export const fine = join(here, '..', 'proto');",
            "export const notMine = resolve(b, '..', '..', '..');",
            '',
          ].join('\n'),
          'test/t.test.ts':
            "import { s } from '../../other/test/helpers.js';\nconst p = new URL('../../../x', import.meta.url);\n",
        },
      },
    });
    expect(lines(root)).toEqual([
      "packages/store/src/a.ts:1: [leaves-package] import '../../other/src/b.js' leaves @x/store: import it by package name",
      "packages/store/src/a.ts:2: [leaves-package] runtime path new URL('../../../catalog/catalog.yaml', import.meta.url) leaves @x/store: ship the data inside the package or take it as a parameter",
      "packages/store/src/a.ts:6: [leaves-package] runtime path resolve(here, '..', '..', '..') leaves @x/store: ship the data inside the package or take it as a parameter",
      "packages/store/src/a.ts:7: [leaves-package] runtime path join(here, '../../x') leaves @x/store: ship the data inside the package or take it as a parameter",
      // tests may read repository files by path, but never import another package's files
      "packages/store/test/t.test.ts:1: [leaves-package] import '../../other/test/helpers.js' leaves @x/store: import it by package name",
    ]);
  });

  it('reports undeclared imports: runtime code against dependencies, tests against devDependencies too', () => {
    const root = workspace({
      '@x/node': {
        layer: 1,
        dependencies: ['@otel/api'],
        devDependencies: ['express'],
        peerDependencies: ['@x/sdk'],
        files: {
          'src/index.ts': [
            "import { trace } from '@otel/api';",
            "import type { Express } from 'express';",
            "const sdk = require.resolve('@x/sdk/package.json');",
            "import('left-pad');",
            "import fs from 'fs';",
            '',
          ].join('\n'),
          'bin/run.mjs': "import 'express';\n",
          'loader.mjs': "import 'chalk';\n",
          'test/a.test.ts': "import express from 'express';\nimport { it } from 'vitest';\nimport 'chalk';\n",
        },
        exports: { '.': './dist/index.js', './loader': './loader.mjs' },
      },
      '@x/sdk': { layer: 1 },
    });
    expect(lines(root)).toEqual([
      "packages/node/bin/run.mjs:1: [undeclared-import] 'express' is not in @x/node's dependencies",
      "packages/node/loader.mjs:1: [undeclared-import] 'chalk' is not in @x/node's dependencies",
      "packages/node/src/index.ts:2: [undeclared-import] 'express' is not in @x/node's dependencies",
      "packages/node/src/index.ts:4: [undeclared-import] 'left-pad' is not in @x/node's dependencies",
      "packages/node/test/a.test.ts:3: [undeclared-import] 'chalk' is not in @x/node's dependencies or devDependencies",
    ]);
  });

  it('lets a bundled package import its devDependencies from src (they ship inside its bundle)', () => {
    const files = { 'src/index.ts': "import { trace } from '@otel/api';\n" };
    const bundled = workspace({
      '@x/sdk': { layer: 1, bundled: true, devDependencies: ['@otel/api'], files },
    });
    expect(lines(bundled)).toEqual([]);
    const plain = workspace({ '@x/sdk': { layer: 1, devDependencies: ['@otel/api'], files } });
    expect(lines(plain)).toEqual([
      "packages/sdk/src/index.ts:1: [undeclared-import] '@otel/api' is not in @x/sdk's dependencies",
    ]);
  });

  it('reports a cycle over dependencies + devDependencies, not over peerDependencies', () => {
    const root = workspace({
      '@x/grafana': { layer: 1, devDependencies: ['@x/store'] },
      '@x/store': { layer: 1, devDependencies: ['@x/grafana'] },
      '@x/devkit': { layer: 1, peerDependencies: ['@x/sdk'] },
      '@x/sdk': { layer: 1, devDependencies: ['@x/devkit'] },
    });
    expect(lines(root)).toEqual([
      'packages/grafana/package.json:1: [workspace-cycle] workspace dependency cycle: @x/grafana → @x/store → @x/grafana',
    ]);
    expect(findCycles(loadWorkspaces(root).workspaces)).toEqual([['@x/grafana', '@x/store', '@x/grafana']]);
  });

  it('reports a package without a layer', () => {
    const root = workspace({ '@x/nameless': {} });
    expect(lines(root)).toEqual([
      'packages/nameless/package.json:1: [layer] @x/nameless declares no layer ("mp-otel": { "layer": N })',
    ]);
  });
});
