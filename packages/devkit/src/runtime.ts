// Runs a WeChat mini-program project's own files (app.js, app.json, pages/*) in a bare realm on the wx
// shim: App(), Page(), getApp(), getCurrentPages(), CommonJS require between project files and
// miniprogram_npm packages (resolved as WeChat DevTools' "Build npm" would lay them out), the page stack,
// and the base library's launch/route/firstRender performance entries. Enough to drive an app's real
// code from a test, the demo or a simulated fleet; not a renderer (WXML is not interpreted).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { createRealm, type MiniProgramRealm, miniprogramDistPath } from './vm-loader.js';
import type { WxControl } from './wx-shim.js';

export interface PageInstance {
  route: string;
  options: Record<string, string>;
  data: Record<string, unknown>;
  setData(patch: Record<string, unknown>, callback?: () => void): void;
  [method: string]: any;
}

export interface MiniProgram {
  realm: MiniProgramRealm;
  app: Record<string, any>;
  pages: string[];
  /** The page on top of the stack. */
  page(): PageInstance;
  /** wx.navigateTo's effect: load and show a page. */
  navigateTo(route: string, query?: Record<string, string>): PageInstance;
  /** The app went to the background / came back (fires wx.onAppHide / onAppShow and App hooks). */
  hide(): void;
  show(): void;
  /** The app process was killed: no more callbacks or timers. */
  kill(): void;
}

/** Packages a project may require by name, as DevTools would have built them into miniprogram_npm. */
function npmPackagePath(projectDir: string, name: string): string | undefined {
  const built = join(projectDir, 'miniprogram_npm', name, 'index.js');
  if (existsSync(built)) return built;
  if (name === '@mp-otel/miniprogram') return miniprogramDistPath();
  // the SDK's plugin entries: @mp-otel/miniprogram/render → miniprogram_dist/render.js
  const plugin = /^@mp-otel\/miniprogram\/([\w-]+)$/.exec(name);
  if (plugin) {
    const file = join(dirname(miniprogramDistPath()), `${plugin[1]}.js`);
    if (existsSync(file)) return file;
  }
  return undefined;
}

export interface RunOptions {
  /** Emit the base library's launch/route/firstRender performance entries. */
  performance?: boolean;
  /**
   * What a setData costs the renderer (ms), for pages' setUpdatePerformanceListener (base library
   * ≥ 2.12.0): each setData is reported with pending/update timestamps that far apart. WXML is not
   * rendered, so the cost is the test's to say; default 0.
   */
  renderCostMs?: (route: string, patch: Record<string, unknown>) => number;
}

export function runMiniProgram(
  projectDir: string,
  wx: any,
  control: WxControl,
  options: RunOptions = {},
): MiniProgram {
  const appJson = JSON.parse(readFileSync(join(projectDir, 'app.json'), 'utf8')) as { pages: string[] };
  let appOptions: Record<string, any> | undefined;
  let pendingPage: Record<string, any> | undefined;
  const stack: PageInstance[] = [];
  const cache = new Map<string, unknown>();

  const realm = createRealm({
    wx,
    App: (o: Record<string, any>) => {
      appOptions = o;
    },
    Page: (o: Record<string, any>) => {
      pendingPage = o;
    },
    getApp: () => appOptions,
    getCurrentPages: () => [...stack],
  });

  const load = (file: string): any => {
    const key = normalize(file);
    if (cache.has(key)) return cache.get(key);
    const source = readFileSync(key, 'utf8');
    const exports = realm.runModule(source, relative(projectDir, key), {}, (name) => {
      if (name.startsWith('.') || name.startsWith('/')) {
        const base = name.startsWith('/') ? join(projectDir, name) : join(dirname(key), name);
        return load(base.endsWith('.js') ? base : `${base}.js`);
      }
      const pkg = npmPackagePath(projectDir, name);
      if (!pkg) throw new Error(`module '${name}' is not defined (run "Build npm")`);
      return load(pkg);
    });
    cache.set(key, exports);
    return exports;
  };

  const perf = (entries: Array<Record<string, unknown>>) => {
    if (options.performance) control.emitPerformance(entries);
  };

  const open = (route: string, query: Record<string, string>, navigationType: string): PageInstance => {
    const started = Date.now();
    pendingPage = undefined;
    cache.delete(normalize(join(projectDir, `${route}.js`)));
    load(join(projectDir, `${route}.js`));
    const definition: Record<string, any> = (pendingPage as Record<string, any> | undefined) ?? {};
    const page = Object.assign(Object.create(null), definition) as PageInstance;
    page.route = route;
    page.options = query;
    page.data = JSON.parse(JSON.stringify(definition.data ?? {}));
    const updateListeners: Array<{ withDataPaths: boolean; listener: (r: Record<string, unknown>) => void }> =
      [];
    let updateId = 0;
    page.setUpdatePerformanceListener = (o: { withDataPaths?: boolean } = {}, listener: any) => {
      if (typeof listener === 'function')
        updateListeners.push({ withDataPaths: !!o.withDataPaths, listener });
    };
    page.setData = (patch, callback) => {
      const pendingStart = Date.now();
      Object.assign(page.data, patch);
      const cost = options.renderCostMs?.(route, patch) ?? 0;
      const id = ++updateId;
      setImmediate(() => {
        for (const { withDataPaths, listener } of updateListeners) {
          listener({
            updateProcessId: id,
            isMergedUpdate: false,
            ...(withDataPaths
              ? { dataPaths: Object.keys(patch).map((k) => k.split(/[.[\]]+/).filter(Boolean)) }
              : {}),
            pendingStartTimestamp: control.performanceTime(pendingStart),
            updateStartTimestamp: control.performanceTime(pendingStart),
            updateEndTimestamp: control.performanceTime(pendingStart + cost),
          });
        }
        callback?.();
      });
    };
    const referrer = stack[stack.length - 1]?.route;
    stack.push(page);
    page.onLoad?.(query);
    page.onShow?.();
    page.onReady?.();
    const duration = Date.now() - started;
    perf([
      {
        entryType: 'navigation',
        name: 'route',
        startTime: control.performanceTime(started),
        duration,
        path: route,
        navigationType,
        referrerPath: referrer,
      },
      {
        entryType: 'render',
        name: 'firstRender',
        startTime: control.performanceTime(started),
        duration,
        path: route,
      },
    ]);
    return page;
  };

  // Navigation belongs to the page stack, so the runtime (not the shim) answers it.
  const navigate = (navigationType: string) => (o: any) => {
    const [path, search = ''] = String(o?.url ?? '')
      .replace(/^\//, '')
      .split('?');
    const query: Record<string, string> = {};
    for (const pair of search.split('&').filter(Boolean)) {
      const [k, v = ''] = pair.split('=');
      query[decodeURIComponent(k!)] = decodeURIComponent(v);
    }
    setImmediate(() => {
      if (navigationType === 'redirectTo') stack.pop();
      open(path!, query, navigationType);
      o?.success?.({ errMsg: `${navigationType}:ok` });
    });
  };
  wx.navigateTo ??= navigate('navigateTo');
  wx.redirectTo ??= navigate('redirectTo');
  wx.navigateBack ??= () => setImmediate(() => stack.length > 1 && stack.pop()?.onUnload?.());

  const launchedAt = Date.now();
  load(join(projectDir, 'app.js'));
  if (!appOptions) throw new Error('app.js did not call App()');
  const app = appOptions;
  const entry = appJson.pages[0]!;
  app.onLaunch?.({ path: entry, query: {}, scene: 1001 });
  app.onShow?.({ path: entry, query: {}, scene: 1001 });
  open(entry, {}, 'appLaunch');
  perf([
    {
      entryType: 'navigation',
      name: 'appLaunch',
      startTime: control.performanceTime(launchedAt),
      duration: Date.now() - launchedAt,
      path: entry,
      navigationType: 'appLaunch',
    },
  ]);

  return {
    realm,
    app,
    pages: appJson.pages,
    page: () => stack[stack.length - 1]!,
    navigateTo: (route, query = {}) => open(route, query, 'navigateTo'),
    hide() {
      stack[stack.length - 1]?.onHide?.();
      app.onHide?.();
      control.emit('appHide');
    },
    show() {
      app.onShow?.({ path: stack[stack.length - 1]?.route, query: {}, scene: 1001 });
      control.emit('appShow', {});
      stack[stack.length - 1]?.onShow?.();
    },
    kill() {
      control.kill();
      realm.dispose();
    },
  };
}
