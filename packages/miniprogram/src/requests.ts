// CLIENT spans for wx.request / uploadFile / downloadFile, and W3C trace context on the app's own
// business requests. The app's options object is copied, never mutated; the app's callbacks run outside
// our try/catch so their own exceptions behave exactly as without the SDK; the original task is returned.
import type { Span } from '@opentelemetry/api';
import type { Breadcrumbs } from './breadcrumbs.js';
import { type Platform, patch, unpatch } from './platform.js';
import { scrubUrl } from './scrub.js';
import { utf8Length } from './text.js';
import type { MpSpan, MpTracer } from './tracer.js';

export interface RouteRule {
  /** Catalog route name, e.g. `upload.image` → `mp.route_name` and the span name. */
  name: string;
  method?: string;
  /** Prefix string or RegExp matched against the request URL. */
  url: string | RegExp;
}

export type UrlMatcher = string | RegExp;

const CLIENT = 2; // SpanKind.CLIENT
const ERROR = 2; // SpanStatusCode.ERROR

/** Where trace context may go, and what a span needs from the rest of the SDK. */
export interface RequestContext {
  tracer: MpTracer;
  platform: Platform;
  /** The telemetry endpoint: its requests (`${endpoint}/v1/…`) are neither traced nor given trace headers. */
  endpoint: string;
  /** True for URLs that may receive traceparent/baggage (the app's own hosts). */
  propagateTo(url: string, host: string): boolean;
  fingerprint: string;
  fingerprintHeader: boolean;
  routes: RouteRule[];
  secretParams: RegExp;
  errorCode?: (response: any, request: any) => string | number | undefined | null;
  pageRoute(): string | undefined;
  network(): { type: string; subtype?: string };
  breadcrumbs: Breadcrumbs;
}

type ApiName = 'request' | 'uploadFile' | 'downloadFile';

const URL_HOST = /^([a-z][a-z0-9+.-]*:)?\/\/(?:[^/?#@]*@)?([^/?#:]*)(?::(\d+))?/i;

/** server.address and server.port of a URL, without the `URL` class (absent in WeChat's engine). */
export function serverOf(url: string): { host: string; port?: number } {
  const m = URL_HOST.exec(url) || [];
  const scheme = (m[1] || '').toLowerCase();
  const port = m[3] ? Number(m[3]) : scheme === 'https:' || scheme === 'wss:' ? 443 : scheme ? 80 : undefined;
  return { host: (m[2] || '').toLowerCase(), port };
}

/** The path of a URL without query or fragment (for breadcrumbs), scrubbed. */
export function pathOf(url: string): string {
  const m = /^(?:[a-z][a-z0-9+.-]*:)?\/\/[^/?#]*([^?#]*)/i.exec(url);
  return scrubUrl(m ? m[1] || '/' : url.replace(/[?#].*$/, ''), /^$/);
}

export function matches(url: string, matcher: UrlMatcher): boolean {
  return typeof matcher === 'string' ? url.indexOf(matcher) === 0 : matcher.test(url);
}

/**
 * `hosts` entries: `api.example.com` (that host), `*.example.com` / `.example.com` (any subdomain, and the
 * domain itself). Ports are ignored.
 */
export function hostMatcher(hosts: string[]): (host: string) => boolean {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const h of hosts) {
    const host = String(h).toLowerCase().replace(/:\d+$/, '');
    if (host.indexOf('*.') === 0 || host.indexOf('.') === 0) {
      const domain = host.slice(host.indexOf('.') + 1);
      exact.add(domain);
      suffixes.push(`.${domain}`);
    } else exact.add(host);
  }
  return (host) => {
    if (exact.has(host)) return true;
    for (const s of suffixes) if (host.length > s.length && host.slice(-s.length) === s) return true;
    return false;
  };
}

/** The hosts an app owns when it names none: the telemetry endpoint's host and its parent domain. */
export function defaultHosts(endpoint: string): string[] {
  const host = serverOf(endpoint).host;
  const labels = host.split('.');
  if (/^[\d.]+$/.test(host) || labels.length < 3) return [host, `*.${host}`];
  return [host, `*.${labels.slice(1).join('.')}`];
}

/** Classifies a failed call's errMsg ("request:fail timeout") or Alipay error code (13 = timeout). */
export function failureType(err: any = {}): string {
  const text = String(err.errMsg || err.errorMessage || '');
  if (/time(d)?\s?out/i.test(text) || err.error === 13) return 'timeout';
  if (/abort/i.test(text)) return 'abort';
  return 'network';
}

function header(headers: any, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  for (const key in headers) if (key.toLowerCase() === name) return String(headers[key]);
  return undefined;
}

function byteSize(data: unknown): number | undefined {
  if (typeof data === 'string') return utf8Length(data);
  const n = data && (data as any).byteLength; // ArrayBuffer from any realm (no instanceof across realms)
  if (typeof n === 'number') return n;
  try {
    return data && typeof data === 'object' ? utf8Length(JSON.stringify(data)) : undefined; // sent as JSON
  } catch {
    return undefined;
  }
}

/** Adds traceparent (+ tracestate), baggage with the fingerprint, optionally x-mp-fingerprint. */
export function injectTraceHeaders(o: RequestContext, span: Span, headers: Record<string, unknown>): void {
  const sc = span.spanContext();
  headers.traceparent = `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`;
  const state = sc.traceState && sc.traceState.serialize();
  if (state) headers.tracestate = state;
  const entry = `mp.fingerprint=${o.fingerprint}`;
  let baggage: unknown;
  for (const key in headers) {
    if (key.toLowerCase() !== 'baggage') continue;
    baggage = headers[key];
    delete headers[key];
  }
  headers.baggage = baggage ? `${baggage},${entry}` : entry;
  if (o.fingerprintHeader) headers['x-mp-fingerprint'] = o.fingerprint;
}

/** Network type at the end of the call: by then getNetworkType has answered. */
function endSpan(span: MpSpan, o: RequestContext): void {
  const net = o.network();
  span.setAttribute('network.connection.type', net.type);
  span.setAttribute('network.connection.subtype', net.subtype);
  span.end();
}

export function instrumentRequests(o: RequestContext): () => void {
  const { platform } = o;
  const apis: Array<[string, ApiName]> = [
    [platform.requestApi, 'request'],
    ['uploadFile', 'uploadFile'],
    ['downloadFile', 'downloadFile'],
  ];
  for (const [property, kind] of apis) {
    patch(
      platform.api,
      property,
      (original) =>
        function (this: unknown, options: any) {
          return traced(o, kind, original, this, options);
        },
    );
  }
  return () => {
    for (const [property] of apis) unpatch(platform.api, property);
  };
}

function traced(o: RequestContext, kind: ApiName, original: any, self: unknown, options: any): any {
  let started: ReturnType<typeof startSpan> | undefined;
  try {
    const url = options && options.url;
    // only the telemetry paths are the SDK's own: the API may sit behind the same gateway (Kong serves both)
    if (typeof url === 'string' && url.indexOf(`${o.endpoint}/v1/`) !== 0)
      started = startSpan(o, kind, options, url);
  } catch {
    started = undefined;
  }
  const task = original.call(self, started ? started.options : options);
  if (started && kind !== 'request') {
    const progress = started.progress;
    try {
      task.onProgressUpdate((p: any = {}) => {
        if (typeof p.totalBytesExpectedToSend === 'number') progress.sent = p.totalBytesExpectedToSend;
        if (typeof p.totalBytesWritten === 'number') progress.received = p.totalBytesWritten;
      });
    } catch {}
  }
  return task;
}

function startSpan(o: RequestContext, kind: ApiName, options: any, url: string) {
  const { platform } = o;
  const method =
    kind === 'request'
      ? String(options.method || 'GET').toUpperCase()
      : kind === 'uploadFile'
        ? 'POST'
        : 'GET';
  let route: RouteRule | undefined;
  for (const r of o.routes) {
    if ((!r.method || r.method.toUpperCase() === method) && matches(url, r.url)) {
      route = r;
      break;
    }
  }
  const server = serverOf(url);
  const span = o.tracer.startSpan(route ? `${method} ${route.name}` : method, { kind: CLIENT });
  span.setAttribute('http.request.method', method);
  span.setAttribute('url.full', scrubUrl(url, o.secretParams));
  span.setAttribute('server.address', server.host);
  span.setAttribute('server.port', server.port);
  span.setAttribute('mp.request.api', kind);
  span.setAttribute('mp.page.route', o.pageRoute());
  if (route) span.setAttribute('mp.route_name', route.name);
  if (kind === 'request' && method !== 'GET')
    span.setAttribute('http.request.body.size', byteSize(options.data));
  const headerField = kind === 'request' ? platform.headerField : 'header';
  const given = options[headerField];
  const headers =
    given && typeof given === 'object' ? Object.assign({}, given) : given === undefined ? {} : undefined;
  if (headers && o.propagateTo(url, server.host)) injectTraceHeaders(o, span, headers);
  const progress: { sent?: number; received?: number } = {};
  const userSuccess = options.success;
  const userFail = options.fail;
  const crumb = `${method} ${route ? route.name : pathOf(url)}`;
  // Object.assign, not spread: the es2017 build would run spread through a slow helper
  const callOptions = Object.assign({}, options, {
    success(this: unknown, res: any) {
      try {
        const status = Number(res[kind === 'request' ? platform.statusField : 'statusCode']);
        const resHeaders = res[headerField] || res.header;
        const length = header(resHeaders, 'content-length');
        span.setAttribute('http.response.status_code', status);
        span.setAttribute(
          'http.response.body.size',
          length !== undefined && length !== ''
            ? Number(length)
            : progress.received || res.dataLength || byteSize(res.data),
        );
        if (kind === 'uploadFile') span.setAttribute('http.request.body.size', progress.sent);
        let code: unknown;
        try {
          if (o.errorCode) code = o.errorCode(res, options);
        } catch {} // an app hook that throws must not cost the span
        if (code === undefined || code === null) code = header(resHeaders, 'x-app-error-code');
        if (code !== undefined && code !== null && code !== '')
          span.setAttribute('app.error_code', String(code));
        if (!(status >= 100 && status < 400)) {
          span.setAttribute('error.type', String(status));
          span.setStatus({ code: ERROR });
        }
        o.breadcrumbs.add('request', `${crumb} ${status}`);
        endSpan(span, o);
      } catch {}
      if (typeof userSuccess === 'function') return userSuccess.call(this, res);
    },
    fail(this: unknown, err: any) {
      try {
        const type = failureType(err);
        span.setAttribute('error.type', type);
        span.setStatus({
          code: ERROR,
          message: String((err || {}).errMsg || (err || {}).errorMessage || ''),
        });
        o.breadcrumbs.add('request', `${crumb} ${type}`);
        endSpan(span, o);
      } catch {}
      if (typeof userFail === 'function') return userFail.call(this, err);
    },
  });
  if (headers) callOptions[headerField] = headers;
  return { span, options: callOptions, progress };
}
