// App launch and page-view spans from the base library's own performance entries
// (wx.getPerformance().createObserver: `appLaunch` and `route` navigations, `firstRender`, `firstPaint`).
import { ROOT_CONTEXT, type Span, SpanKind, type Tracer, trace } from '@opentelemetry/api';
import { call } from './platform';

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
}

/** Starts observing; returns a function that stops. */
export function observePages(api: any, tracer: Tracer): () => void {
  let lastView: { span: Span; path?: string } | undefined;
  const view = (name: string, e: PerformanceEntry) => {
    const start = Number(e.startTime) || Date.now();
    const span = tracer.startSpan(
      name,
      {
        kind: SpanKind.INTERNAL,
        startTime: start,
        attributes: {
          'mp.page.route': e.path,
          'mp.navigation.type': e.navigationType,
          'mp.page.referrer': e.referrerPath,
        },
      },
      // Each view is a trace of its own: request spans must not pile up under one long page trace.
      ROOT_CONTEXT,
    );
    span.end(start + (Number(e.duration) || 0));
    lastView = { span, path: e.path };
  };
  const render = (e: PerformanceEntry) => {
    if (!lastView || (e.path && lastView.path && e.path !== lastView.path)) return;
    const start = Number(e.startTime) || Date.now();
    const parent = trace.setSpan(ROOT_CONTEXT, lastView.span);
    tracer
      .startSpan(
        `page.${e.name === 'firstPaint' ? 'first_paint' : 'first_render'}`,
        { startTime: start, attributes: { 'mp.page.route': e.path } },
        parent,
      )
      .end(start + (Number(e.duration) || 0));
  };
  const onEntries = (list: any) => {
    const entries: PerformanceEntry[] =
      list && typeof list.getEntries === 'function' ? list.getEntries() : [];
    for (const e of entries) {
      try {
        if (e.name === 'appLaunch') view('app.launch', e);
        else if (e.name === 'route') view('page.view', e);
        else if (e.name === 'firstRender' || e.name === 'firstPaint') render(e);
      } catch {}
    }
  };
  // wx.getPerformance: base library ≥ 2.11.0; on older ones there are no page-view spans.
  const observer = call(call(api, 'getPerformance') || {}, 'createObserver', onEntries);
  call(observer || {}, 'observe', { entryTypes: ['navigation', 'render'] });
  return () => call(observer || {}, 'disconnect');
}
