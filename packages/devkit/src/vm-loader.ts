// Loads the built mini-program SDK (miniprogram_dist, CommonJS) into a bare `vm` context offering only
// what WeChat's JS engine offers: ES built-ins, timers, console and the host API object. No
// `performance`, `TextEncoder`, `URL`, `fetch`, `XMLHttpRequest`, `Proxy`, and no code generation from
// strings (`eval`, `new Function`), so any reliance on them fails loudly here as it would on a phone.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import vm from 'node:vm';

const requireHere = createRequire(import.meta.url);

/** Path of the built SDK that WeChat DevTools' "Build npm" would copy. */
export function miniprogramDistPath(): string {
  const pkg = requireHere.resolve('@mp-otel/miniprogram/package.json');
  return join(dirname(pkg), 'miniprogram_dist', 'index.js');
}

export interface MiniProgramRealm {
  context: vm.Context;
  /** Runs CommonJS source in the realm; `require` resolves only through `modules`. */
  runModule(
    source: string,
    filename: string,
    modules?: Record<string, unknown>,
    requireFile?: (p: string) => unknown,
  ): any;
  /** Clears every timer the realm started (the app process ended). */
  dispose(): void;
}

/** A bare realm with `globals` (e.g. `{ wx }`) added. */
export function createRealm(globals: Record<string, unknown>): MiniProgramRealm {
  const timers = new Set<NodeJS.Timeout>();
  const intervals = new Set<NodeJS.Timeout>();
  const sandbox: Record<string, unknown> = {
    console,
    setTimeout: (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const t = setTimeout(() => {
        timers.delete(t);
        fn(...args);
      }, ms);
      timers.add(t);
      return t;
    },
    clearTimeout: (t: NodeJS.Timeout) => {
      timers.delete(t);
      clearTimeout(t);
    },
    setInterval: (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const t = setInterval(fn, ms, ...args);
      intervals.add(t);
      return t;
    },
    clearInterval: (t: NodeJS.Timeout) => {
      intervals.delete(t);
      clearInterval(t);
    },
    ...globals,
  };
  const context = vm.createContext(sandbox, { codeGeneration: { strings: false, wasm: false } });
  // What WeChat's engines cannot be relied on to offer.
  vm.runInContext(
    'delete globalThis.Proxy; delete globalThis.WeakRef; delete globalThis.FinalizationRegistry;',
    context,
  );
  return {
    context,
    runModule(source, filename, modules = {}, requireFile) {
      const wrapper = vm.runInContext(`(function (module, exports, require) {${source}\n})`, context, {
        filename,
      });
      const module = { exports: {} as any };
      const require = (name: string) => {
        if (name in modules) return modules[name];
        if (requireFile) return requireFile(name);
        throw new Error(`require('${name}') is not available in the mini-program realm`);
      };
      wrapper(module, module.exports, require);
      return module.exports;
    },
    dispose() {
      for (const t of timers) clearTimeout(t);
      for (const t of intervals) clearInterval(t);
      timers.clear();
      intervals.clear();
    },
  };
}

/** Loads miniprogram_dist/index.js into a bare realm with `wx` (and any extra globals). */
export function loadMiniProgramSdk(
  wx: unknown,
  extraGlobals: Record<string, unknown> = {},
): { sdk: any; realm: MiniProgramRealm } {
  const realm = createRealm({ wx, ...extraGlobals });
  const path = miniprogramDistPath();
  const sdk = realm.runModule(readFileSync(path, 'utf8'), path);
  return { sdk, realm };
}
