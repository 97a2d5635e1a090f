// The size budget (as size-limit would enforce it): what WeChat DevTools copies into a mini-program
// package must stay within 20 KB gzipped, OpenTelemetry included. bench/sdk.bench.mjs compares it.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { miniprogramDistPath } from '@mp-otel/devkit';
import { expect, test } from 'vitest';

test('miniprogram_dist is CommonJS exporting init, within 20 KB gzipped', () => {
  const code = readFileSync(miniprogramDistPath());
  expect(gzipSync(code, { level: 9 }).length).toBeLessThanOrEqual(20 * 1024);
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  expect(pkg.miniprogram).toBe('miniprogram_dist');
  expect(pkg.sideEffects).toBe(false);
  const module = { exports: {} as Record<string, unknown> };
  new Function('module', 'exports', code.toString())(module, module.exports);
  expect(typeof module.exports.init).toBe('function');
});
