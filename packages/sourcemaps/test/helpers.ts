// Builds the fixture app as a mini-program build would: one layer (DevTools compiles and minifies the
// sources into app-service.js with a map) or two (a Taro/uni-app style bundle app.js with its own map,
// which DevTools then minifies into app-service.js with a map whose only source is app.js).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vm from 'node:vm';
import * as esbuild from 'esbuild';
import { onTestFinished } from 'vitest';

export const SHOP = new URL('./fixtures/shop/src', import.meta.url).pathname;

/** A new directory under the system's temporary one, removed when the test that made it finishes. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Build {
  /** the folder to upload (maps only, as DevTools exports them) */
  maps: string;
  /** the code that runs on the phone */
  appService: string;
}

export async function buildShop(layers: 1 | 2): Promise<Build> {
  const root = tempDir('mp-sourcemaps-');
  const maps = join(root, 'maps');
  mkdirSync(join(maps, '__APP__'), { recursive: true });
  const common = {
    bundle: true,
    format: 'cjs' as const,
    platform: 'neutral' as const,
    target: 'es2017',
    logLevel: 'silent' as const,
  };
  if (layers === 1) {
    await esbuild.build({
      ...common,
      entryPoints: [join(SHOP, 'app.ts')],
      minify: true,
      sourcemap: 'external',
      outfile: join(maps, '__APP__', 'app-service.js'),
    });
  } else {
    // layer 1: the framework's bundle (not minified), its map external: DevTools does not read it
    await esbuild.build({
      ...common,
      entryPoints: [join(SHOP, 'app.ts')],
      sourcemap: 'external',
      outfile: join(maps, 'taro', 'app.js'),
    });
    // layer 2: DevTools minifies the bundle into app-service.js
    await esbuild.build({
      entryPoints: [join(maps, 'taro', 'app.js')],
      bundle: false,
      minify: true,
      sourcemap: 'external',
      format: 'cjs',
      target: 'es2017',
      logLevel: 'silent',
      outfile: join(maps, '__APP__', 'app-service.js'),
    });
  }
  return { maps, appService: readFileSync(join(maps, '__APP__', 'app-service.js'), 'utf8') };
}

/** Runs app-service.js as WeChat would name it in stacks, and returns the stack of what onPay([]) throws. */
export function crash(appService: string, filename = 'https://usr/app-service.js'): string {
  // compileFunction, not a source wrapper: line 1 columns stay the file's own
  const fn = vm.compileFunction(appService, ['module', 'exports'], {
    filename,
    parsingContext: vm.createContext({}),
  });
  const module = { exports: {} as any };
  fn(module, module.exports);
  try {
    module.exports.onPay([]);
  } catch (e) {
    return (e as Error).stack ?? '';
  }
  throw new Error('onPay([]) did not throw');
}

/** The same frames as JavaScriptCore (iOS) prints them: `fn@file:line:column`. */
export function toJavaScriptCore(v8: string): string {
  return v8
    .split('\n')
    .map((line) => {
      const m = /^\s*at (?:(.*?) \()?(.+?):(\d+):(\d+)\)?$/.exec(line);
      if (!m) return line.replace(/^(\w*Error): /, '');
      return `${(m[1] ?? '').replace(/^Object\./, '')}@${m[2]}:${m[3]}:${m[4]}`;
    })
    .join('\n');
}
