// Upload and symbolication against real builds (esbuild, as mini-program toolchains minify) and stacks
// thrown by the minified code in a V8 context, printed in V8 and JavaScriptCore formats.
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { directoryStore, openSourceMaps } from '../src/index.js';
import { buildShop, crash, tempDir, toJavaScriptCore } from './helpers.js';

const store = () => directoryStore(tempDir('mp-maps-store-'));

describe.each([1, 2] as const)('%s-layer build', (layers) => {
  test('upload, then both stack formats symbolicate to the original function, file, line and column', async () => {
    const build = await buildShop(layers);
    const stack = crash(build.appService);
    expect(stack).toMatch(/app-service\.js:1:\d+/); // minified: everything on line 1
    const maps = openSourceMaps(store());
    const up = await maps.upload(build.maps, '2.0.1');
    expect(up.files).toContain('__APP__/app-service.js');
    if (layers === 2) expect(up.composed).toEqual(['__APP__/app-service.js']);

    for (const text of [stack, toJavaScriptCore(stack)]) {
      const r = await maps.symbolicate(text, '2.0.1');
      const [thrower, caller] = r.frames.filter((f) => f.original);
      expect(thrower!.original).toMatchObject({ fn: 'checkout', line: 15, column: 11 });
      expect(thrower!.original!.file).toMatch(/fixtures\/shop\/src\/cart\.ts$/);
      expect(caller!.original).toMatchObject({ fn: 'onPay', line: 4 });
      expect(caller!.original!.file).toMatch(/src\/app\.ts$/);
      expect(r.top).toMatch(/^checkout \(.*src\/cart\.ts:15:11\)$/);
      expect(r.text).toContain('empty cart'); // header lines are kept as they are
      expect(r.text).toMatch(/ {4}at checkout \(.*cart\.ts:15:11\)/);
    }
  });
});

test('another release, or a file without a map, stays as it was', async () => {
  const build = await buildShop(1);
  const stack = crash(build.appService);
  const maps = openSourceMaps(store());
  await maps.upload(build.maps, '2.0.1');
  const other = await maps.symbolicate(stack, '2.0.0');
  expect(other.mapped).toBe(0);
  expect(other.text).toBe(stack);
  const sub = await maps.symbolicate(stack.replace(/app-service\.js/g, 'packageB/other.js'), '2.0.1');
  expect(sub.mapped).toBe(0);
});

test('subpackages: each file resolves to its own map', async () => {
  const main = await buildShop(1);
  const root = tempDir('mp-maps-sub-');
  const { cpSync } = await import('node:fs');
  cpSync(main.maps, root, { recursive: true });
  cpSync(join(main.maps, '__APP__'), join(root, 'packageB'), { recursive: true });
  const maps = openSourceMaps(store());
  const up = await maps.upload(root, '3.0.0');
  expect(up.files.sort()).toEqual(['__APP__/app-service.js', 'packageB/app-service.js']);
  const stack = crash(main.appService, 'https://usr/packageB/app-service.js');
  const r = await maps.symbolicate(stack, '3.0.0');
  expect(r.top).toMatch(/^checkout \(.*cart\.ts:15:11\)$/);
});

test('a folder without maps, or a file that is not one, is refused with a message', async () => {
  const maps = openSourceMaps(store());
  const empty = tempDir('mp-maps-empty-');
  expect((await maps.upload(empty, '1')).files).toEqual([]);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(empty, 'bad.js.map'), '{"not":"a map"}');
  await expect(maps.upload(empty, '1')).rejects.toThrow(/bad\.js\.map: not a version 3 source map/);
});
