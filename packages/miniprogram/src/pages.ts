// App launch, page views and page render timing from the base library's own performance entries
// (wx.getPerformance().createObserver): `navigation` (appLaunch, route), `render` (firstRender,
// firstPaint, firstContentfulPaint, largestContentfulPaint), `script` (evaluateScript) and `loadPackage`
// (downloadPackage: subpackage loads).
// PerformanceEntry.startTime has two bases in the wild: epoch milliseconds, or milliseconds since a
// runtime origin (as sentry-miniapp assumes). `toEpoch` tells them apart and rebases the second kind.
import type { Breadcrumbs } from './breadcrumbs.js';
import { call } from './platform.js';
import { contextWithSpan, type MpSpan, type MpTracer, ROOT_CONTEXT } from './tracer.js';

declare const getCurrentPages: undefined | (() => Array<{ route?: string; __route__?: string }>);

/** The current page's route (`pages/upload/upload`), if the host knows one. */
export function currentPageRoute(): string | undefined {
  try {
    if (typeof getCurrentPages !== 'function') return undefined;
    const pages = getCurrentPages();
    const page = pages[pages.length - 1];
    return page && (page.route || page.__route__);
  } catch {
    return undefined;
  }
}

interface PerformanceEntry {
  entryType?: string;
  name?: string;
  startTime?: number;
  duration?: number;
  path?: string;
  navigationType?: string;
  referrerPath?: string;
  moduleName?: string;
  packageName?: string;
  packageSize?: number;
}

/** Anything after 2001-09-09 in milliseconds is an epoch time; smaller values count from an origin. */
const EPOCH_FLOOR = 1e12;

/**
 * Converts the base library's timestamps to epoch milliseconds. A runtime-based time is rebased on the
 * runtime's own clock (`getPerformance().now()`, same base as its entries) when it has one; otherwise on
 * the first relative entry seen, taken to have ended just now (entries are delivered as they complete).
 */
export function epochClock(perf: any): (time: number, end?: number) => number {
  let origin: number | undefined;
  return (time, end = time) => {
    if (time >= EPOCH_FLOOR) return time;
    if (origin === undefined) {
      const now = Number(call(perf || {}, 'now'));
      origin = Number.isFinite(now) && now > 0 && now < EPOCH_FLOOR ? Date.now() - now : Date.now() - end;
    }
    return origin + time;
  };
}

const RENDER_SPANS: Record<string, string> = {
  firstRender: 'page.first_render',
  firstPaint: 'page.first_paint',
  firstContentfulPaint: 'page.first_contentful_paint',
  largestContentfulPaint: 'page.largest_contentful_paint',
};

/** Starts observing; returns a function that stops. */
export function observePages(api: any, tracer: MpTracer, breadcrumbs: Breadcrumbs): () => void {
  const perf = call(api, 'getPerformance');
  const toEpoch = epochClock(perf);
  let lastView: { span: MpSpan; path?: string } | undefined;
  const span = (name: string, e: PerformanceEntry, attributes: Record<string, unknown>, parent?: MpSpan) => {
    const duration = Number(e.duration) || 0;
    const raw = Number(e.startTime);
    const start = Number.isFinite(raw) && raw >= 0 ? toEpoch(raw, raw + duration) : Date.now() - duration;
    const s = tracer.startSpan(
      name,
      { startTime: start },
      // Each view is a trace of its own: request spans must not pile up under one long page trace.
      parent ? contextWithSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
    );
    for (const key in attributes) s.setAttribute(key, attributes[key]);
    s.end(start + duration);
    return s;
  };
  const onEntry = (e: PerformanceEntry) => {
    const name = e.name || '';
    if (name === 'appLaunch' || name === 'route') {
      const view = span(name === 'route' ? 'page.view' : 'app.launch', e, {
        'mp.page.route': e.path,
        'mp.navigation.type': e.navigationType,
        'mp.page.referrer': e.referrerPath,
      });
      lastView = { span: view, path: e.path };
      if (e.path) breadcrumbs.add('navigation', `${e.navigationType || name} ${e.path}`);
    } else if (RENDER_SPANS[name]) {
      if (!lastView || (e.path && lastView.path && e.path !== lastView.path)) return;
      span(RENDER_SPANS[name]!, e, { 'mp.page.route': e.path || lastView.path }, lastView.span);
    } else if (name === 'evaluateScript') {
      span('script.evaluate', e, { 'mp.script.module': e.moduleName, 'mp.page.route': e.path });
    } else if (name === 'downloadPackage' || e.entryType === 'loadPackage') {
      span('package.load', e, { 'mp.package.name': e.packageName, 'mp.package.size': e.packageSize });
    }
  };
  const onEntries = (list: any) => {
    const entries: PerformanceEntry[] =
      list && typeof list.getEntries === 'function' ? list.getEntries() : [];
    for (const e of entries) {
      try {
        onEntry(e);
      } catch {}
    }
  };
  // wx.getPerformance: base library ≥ 2.11.0; on older ones there are no page-view spans.
  const observer = call(perf || {}, 'createObserver', onEntries);
  call(observer || {}, 'observe', { entryTypes: ['navigation', 'render', 'script', 'loadPackage'] });
  return () => call(observer || {}, 'disconnect');
}
