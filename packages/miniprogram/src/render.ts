// Plugin `@mp-otel/miniprogram/render` (opt-in, its own entry point and size budget): what rendering
// costs a page.
//  - setData cost: each page's and component's setUpdatePerformanceListener (base library ≥ 2.12.0);
//    updates slower than `thresholdMs` become `page.set_data` spans with the data paths they changed.
//  - white screen: a page that made no meaningful render within `whiteScreen.timeoutMs` of its load
//    gets an `mp.white_screen` warning event. Meaningful: at least one visible node matching one of
//    `whiteScreen.selectors` (through the page's SelectorQuery), or, without selectors, any setData.
//  - long tasks: a timer that fires `longTask.thresholdMs` or more late means the JS thread was busy
//    that long: an `mp.long_task` span covering the delay (paused while the app is in the background).
// Usage: init({ …, plugins: [renderPerformance()] }), or later from a subpackage:
//   getApp().globalData.otel.use(require('…/render.js').renderPerformance())
import type { Plugin, PluginContext } from './index.js';

export interface RenderOptions {
  /** setData updates at least this slow become spans (default 50 ms; 0 = every update). */
  thresholdMs?: number;
  /** At most this many data paths per span (default 10). */
  maxPaths?: number;
  whiteScreen?: false | { timeoutMs?: number; selectors?: string[] };
  longTask?: false | { thresholdMs?: number; intervalMs?: number };
}

const INTERNAL = 0;

function wrap(target: Record<string, any>, name: string, before: (self: any) => void): void {
  const original = target[name];
  target[name] = function (this: any, ...args: any[]) {
    try {
      before(this);
    } catch {}
    if (typeof original === 'function') return original.apply(this, args);
  };
}

export function renderPerformance(options: RenderOptions = {}): Plugin {
  return {
    name: 'render',
    setup(ctx) {
      const stops: Array<() => void> = [];
      observeUpdates(ctx, options.thresholdMs ?? 50, options.maxPaths ?? 10);
      if (options.whiteScreen !== false) watchWhiteScreens(ctx, options.whiteScreen || {});
      if (options.longTask !== false) stops.push(watchLongTasks(ctx, options.longTask || {}));
      return () => {
        for (const stop of stops) stop();
      };
    },
  };
}

function route(self: any): string | undefined {
  return (self && (self.route || self.__route__ || self.is)) || undefined;
}

function observeUpdates(ctx: PluginContext, thresholdMs: number, maxPaths: number): void {
  const listen = (self: any, kind: 'page' | 'component') => {
    if (!self || typeof self.setUpdatePerformanceListener !== 'function') return;
    self.setUpdatePerformanceListener({ withDataPaths: true }, (r: any = {}) => {
      const pending = Number(r.pendingStartTimestamp || r.updateStartTimestamp);
      const end = Number(r.updateEndTimestamp);
      if (!Number.isFinite(pending) || !Number.isFinite(end) || end - pending < thresholdMs) return;
      const start = ctx.toEpoch(pending, end);
      const span = ctx.tracer.startSpan(`${kind}.set_data`, { kind: INTERNAL, startTime: start });
      const paths: string[] = Array.isArray(r.dataPaths)
        ? r.dataPaths.slice(0, maxPaths).map((p: unknown) => (Array.isArray(p) ? p.join('.') : String(p)))
        : [];
      span.setAttributes({
        'mp.page.route': kind === 'page' ? route(self) : ctx.pageRoute(),
        'mp.component.is': kind === 'component' ? route(self) : undefined,
        'mp.set_data.paths': paths.length ? paths : undefined,
        'mp.set_data.merged': r.isMergedUpdate === true,
        'mp.set_data.pending_ms': Number(r.updateStartTimestamp) - pending || undefined,
      });
      span.end(start + (end - pending));
    });
  };
  ctx.onOptions((o, kind) => {
    if (kind === 'page') wrap(o, 'onLoad', (self) => listen(self, 'page'));
    else {
      const lifetimes = o.lifetimes && typeof o.lifetimes === 'object' ? o.lifetimes : o;
      wrap(lifetimes, 'attached', (self) => listen(self, 'component'));
    }
  });
}

function watchWhiteScreens(ctx: PluginContext, o: { timeoutMs?: number; selectors?: string[] }): void {
  const timeoutMs = o.timeoutMs ?? 5_000;
  const selectors = o.selectors || [];
  ctx.onOptions((options, kind) => {
    if (kind !== 'page') return;
    wrap(options, 'onLoad', (self) => {
      const loaded = Date.now();
      let rendered = false;
      const setData = self.setData;
      if (typeof setData === 'function') {
        self.setData = function (this: unknown, ...args: any[]) {
          rendered = true;
          return setData.apply(this, args);
        };
      }
      const report = (visibleNodes?: number) =>
        ctx.event(
          'mp.white_screen',
          {
            'mp.page.route': route(self),
            'mp.white_screen.after_ms': Date.now() - loaded,
            'mp.white_screen.visible_nodes': visibleNodes,
            'mp.white_screen.selectors': selectors.length ? selectors : undefined,
          },
          'warn',
        );
      self.__mpOtelWhiteScreen = setTimeout(() => {
        if (!selectors.length || typeof self.createSelectorQuery !== 'function') {
          if (!rendered) report();
          return;
        }
        const query = self.createSelectorQuery();
        for (const s of selectors) query.selectAll(s).boundingClientRect();
        query.exec((results: any[] = []) => {
          let visible = 0;
          for (const list of results || [])
            for (const rect of Array.isArray(list) ? list : [list])
              if (rect && rect.width > 0 && rect.height > 0) visible++;
          if (visible === 0) report(0);
        });
      }, timeoutMs);
    });
    wrap(options, 'onUnload', (self) => clearTimeout(self.__mpOtelWhiteScreen));
  });
}

function watchLongTasks(ctx: PluginContext, o: { thresholdMs?: number; intervalMs?: number }): () => void {
  const thresholdMs = o.thresholdMs ?? 200;
  const intervalMs = o.intervalMs ?? 500;
  let timer: any;
  let expected = 0;
  const tick = () => {
    const now = Date.now();
    const late = now - expected;
    if (late >= thresholdMs) {
      const span = ctx.tracer.startSpan('mp.long_task', { kind: INTERNAL, startTime: expected });
      span.setAttributes({ 'mp.page.route': ctx.pageRoute(), 'mp.long_task.late_ms': late });
      span.end(now);
      ctx.breadcrumb('long_task', `${late}ms`);
    }
    schedule();
  };
  const schedule = () => {
    expected = Date.now() + intervalMs;
    timer = setTimeout(tick, intervalMs);
  };
  const stop = () => clearTimeout(timer);
  ctx.listen('onAppHide', stop);
  ctx.listen('onAppShow', () => {
    stop();
    schedule();
  });
  schedule();
  return stop;
}
