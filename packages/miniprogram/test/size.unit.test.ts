// The size budgets (as size-limit would enforce them): what WeChat DevTools copies into a mini-program
// package. Everything on by default stays within 20 KB gzipped; each opt-in plugin is a separate entry
// point with its own budget (loadable from a subpackage). bench/sdk.bench.mjs reports the sizes.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { miniprogramDistPath } from '@mp-otel/devkit';
import { expect, test } from 'vitest';

const dist = dirname(miniprogramDistPath());
const BUDGETS_KB: Record<string, number> = { index: 20, render: 3, console: 1, frameworks: 1.5 };

function load(name: string): Record<string, unknown> {
  const code = readFileSync(join(dist, `${name}.js`), 'utf8');
  const module = { exports: {} as Record<string, unknown> };
  new Function('module', 'exports', code)(module, module.exports);
  return module.exports;
}

test.each(Object.entries(BUDGETS_KB))('miniprogram_dist/%s.js within %s KB gzipped', (name, kb) => {
  const code = readFileSync(join(dist, `${name}.js`));
  expect(gzipSync(code, { level: 9 }).length).toBeLessThanOrEqual(kb * 1024);
});

test('each entry is CommonJS exporting its API; the package is side-effect free', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  expect(pkg.miniprogram).toBe('miniprogram_dist');
  expect(pkg.sideEffects).toBe(false);
  expect(typeof load('index').init).toBe('function');
  expect(typeof load('render').renderPerformance).toBe('function');
  expect(typeof load('console').consoleBreadcrumbs).toBe('function');
  expect(Object.keys(load('frameworks')).sort()).toEqual([
    'createErrorBoundary',
    'uniAppErrorHandler',
    'vueErrorHandler',
  ]);
});
