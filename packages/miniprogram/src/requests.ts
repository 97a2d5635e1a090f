// CLIENT spans for wx.request / uploadFile / downloadFile, and W3C trace context on business requests.
// The app's options object is copied, never mutated; the app's callbacks run outside our try/catch so
// their own exceptions behave exactly as without the SDK; the original RequestTask is returned.
import { type Span, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { type Platform, patch, unpatch } from './platform';
import { utf8Length } from './shims';

export interface RouteRule {
  /** Catalog route name, e.g. `upload.image` → `mp.route_name` and the span name. */
  name: string;
  method?: string;
  /** Prefix string or RegExp matched against the request URL. */
  url: string | RegExp;
}

export type UrlMatcher = string | RegExp;

export interface RequestOptions {
  tracer: Tracer;
  platform: Platform;
  /** The telemetry endpoint: its requests are neither traced nor given trace headers. */
  endpoint: string;
  propagateTraceHeaderUrls?: UrlMatcher[];
  fingerprint: string;
  fingerprintHeader: boolean;
  routes: RouteRule[];
  scrubQueryParams: RegExp;
  errorCode?: (response: any, request: any) => string | number | undefined | null;
  pageRoute(): string | undefined;
  network(): { type: string; subtype?: string };
}

type ApiName = 'request' | 'uploadFile' | 'downloadFile';

const URL_HOST = /^([a-z][a-z0-9+.-]*:)?\/\/([^/?#:]*)(?::(\d+))?/i;

/** server.address and server.port of a URL, without the `URL` class (absent in WeChat's engine). */
export function serverOf(url: string): { host: string; port?: number } {
  const m = URL_HOST.exec(url) || [];
  const scheme = (m[1] || '').toLowerCase();
  const port = m[3] ? Number(m[3]) : scheme === 'https:' ? 443 : scheme === 'http:' ? 80 : undefined;
  return { host: (m[2] || '').toLowerCase(), port };
}

/** Replaces the values of secret-looking query parameters (token, sign, phone, …) with REDACTED. */
export function scrubUrl(url: string, secret: RegExp): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  const scrubbed = query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return eq >= 0 && secret.test(safeDecode(name)) ? `${name}=REDACTED` : pair;
    })
    .join('&');
  return url.slice(0, q + 1) + scrubbed + (hash < 0 ? '' : url.slice(hash));
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function matches(url: string, matcher: UrlMatcher): boolean {
  return typeof matcher === 'string' ? url.indexOf(matcher) === 0 : matcher.test(url);
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

/** Network type at the end of the call: by then getNetworkType has answered. */
function setNetwork(span: Span, o: RequestOptions): void {
  const net = o.network();
  span.setAttributes({ 'network.connection.type': net.type, 'network.connection.subtype': net.subtype });
}

export function instrumentRequests(o: RequestOptions): () => void {
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

function traced(o: RequestOptions, kind: ApiName, original: any, self: unknown, options: any): any {
  let span: Span | undefined;
  let callOptions = options;
  let progress: { sent?: number; received?: number } = {};
  try {
    const url = options && options.url;
    if (typeof url === 'string' && url.indexOf(o.endpoint) !== 0) {
      const started = startSpan(o, kind, options, url);
      span = started.span;
      callOptions = started.options;
      progress = started.progress;
    }
  } catch {
    span = undefined;
    callOptions = options;
  }
  const task = original.call(self, callOptions);
  if (span && kind !== 'request') {
    try {
      task.onProgressUpdate((p: any = {}) => {
        if (typeof p.totalBytesExpectedToSend === 'number') progress.sent = p.totalBytesExpectedToSend;
        if (typeof p.totalBytesWritten === 'number') progress.received = p.totalBytesWritten;
      });
    } catch {}
  }
  return task;
}

function startSpan(o: RequestOptions, kind: ApiName, options: any, url: string) {
  const { platform } = o;
  const method = String(
    kind === 'request' ? options.method || 'GET' : kind === 'uploadFile' ? 'POST' : 'GET',
  ).toUpperCase();
  const route = o.routes.find((r) => (!r.method || r.method.toUpperCase() === method) && matches(url, r.url));
  const server = serverOf(url);
  const span = o.tracer.startSpan(route ? `${method} ${route.name}` : method, {
    kind: SpanKind.CLIENT,
    attributes: {
      'http.request.method': method,
      'url.full': scrubUrl(url, o.scrubQueryParams),
      'server.address': server.host,
      'server.port': server.port,
      'mp.route_name': route && route.name,
      'mp.request.api': kind,
      'mp.page.route': o.pageRoute(),
      'http.request.body.size': kind === 'request' && method !== 'GET' ? byteSize(options.data) : undefined,
    },
  });
  const headerField = kind === 'request' ? platform.headerField : 'header';
  const given = options[headerField];
  const headers = given && typeof given === 'object' ? { ...given } : given === undefined ? {} : undefined;
  if (headers && shouldPropagate(o, url)) {
    const sc = span.spanContext();
    headers.traceparent = `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`;
    const state = sc.traceState?.serialize();
    if (state) headers.tracestate = state;
    const baggage = header(headers, 'baggage');
    const entry = `mp.fingerprint=${o.fingerprint}`;
    for (const key in headers) if (key.toLowerCase() === 'baggage') delete headers[key];
    headers.baggage = baggage ? `${baggage},${entry}` : entry;
    if (o.fingerprintHeader) headers['x-mp-fingerprint'] = o.fingerprint;
  }
  const progress: { sent?: number; received?: number } = {};
  const userSuccess = options.success;
  const userFail = options.fail;
  const callOptions = {
    ...options,
    ...(headers ? { [headerField]: headers } : {}),
    success(this: unknown, res: any) {
      try {
        const status = Number(res[kind === 'request' ? platform.statusField : 'statusCode']);
        const resHeaders = res[headerField] || res.header;
        const length = header(resHeaders, 'content-length');
        span.setAttributes({
          'http.response.status_code': status,
          'http.response.body.size':
            length !== undefined && length !== ''
              ? Number(length)
              : progress.received || res.dataLength || byteSize(res.data),
          'http.request.body.size': kind === 'uploadFile' ? progress.sent : undefined,
        });
        let code: unknown;
        try {
          if (o.errorCode) code = o.errorCode(res, options);
        } catch {} // an app hook that throws must not cost the span
        if (code === undefined || code === null) code = header(resHeaders, 'x-app-error-code');
        if (code !== undefined && code !== null && code !== '')
          span.setAttribute('app.error_code', String(code));
        if (!(status >= 100 && status < 400)) {
          span.setAttribute('error.type', String(status));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        setNetwork(span, o);
        span.end();
      } catch {}
      if (typeof userSuccess === 'function') return userSuccess.call(this, res);
    },
    fail(this: unknown, err: any) {
      try {
        span.setAttribute('error.type', failureType(err));
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: String((err || {}).errMsg || (err || {}).errorMessage || ''),
        });
        setNetwork(span, o);
        span.end();
      } catch {}
      if (typeof userFail === 'function') return userFail.call(this, err);
    },
  };
  return { span, options: callOptions, progress };
}

function shouldPropagate(o: RequestOptions, url: string): boolean {
  const allow = o.propagateTraceHeaderUrls;
  return !allow || allow.some((m) => matches(url, m));
}
