// @mp-otel/miniprogram: OpenTelemetry for mini-programs with one call in app.js, before App():
//   const otel = init({ serviceName: 'my-app', endpoint: 'https://otel.example.com' })
import { type Attributes, context, type Tracer, trace } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
// sdk-trace-base 2.12 re-exports @opentelemetry/sdk-trace; its BasicTracerProvider only adds an
// environment-variable config loader (~1.5 KB gz) that has no meaning in a mini-program.
import { StackContextManager, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan, Span, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ErrorReporter, type LogRecordData, SEVERITY_WARN } from './errors';
import { Batcher, queuedOtlpExporter, type RecordExporter } from './export';
import { currentPageRoute, observePages } from './pages';
import { call, detectPlatform } from './platform';
import { OfflineQueue, PRIORITY_ERROR, PRIORITY_ROUTINE, type QueueOptions } from './queue';
import { instrumentRequests, type RouteRule, type UrlMatcher } from './requests';
import { DISTRO_VERSION, detectResourceAttributes, randomHex } from './resource';
import { ExportingProcessor, tokenBucket, WeightedRatioSampler } from './sampling';

export { shortHash } from './resource';
export type { LogRecordData, RouteRule, UrlMatcher };

export interface RateLimit {
  /** records per second */
  rate: number;
  burst: number;
}

export interface InitOptions {
  serviceName: string;
  /** Collector base URL: traces go to `${endpoint}/v1/traces`, logs to `${endpoint}/v1/logs`. */
  endpoint: string;
  /** Mini-program version (default: getAccountInfoSync().miniProgram.version, release builds only). */
  serviceVersion?: string;
  /** develop / trial / release (default: getAccountInfoSync().miniProgram.envVersion). */
  environment?: string;
  resourceAttributes?: Attributes;
  /** The host API object (default: detected: qq, tt, swan, dd, my, then wx) and its mp.platform name. */
  api?: unknown;
  platform?: string;
  /** Head-sampling ratio for traces, 0..1 (default 1). Errors are always kept. */
  sampleRate?: number;
  /** Where traceparent/baggage go: prefix strings or RegExps. Default: every URL but the endpoint. */
  propagateTraceHeaderUrls?: UrlMatcher[];
  /** Also send `x-mp-fingerprint` on business requests, for gateways that cannot read baggage. */
  fingerprintHeader?: boolean;
  /** Catalog routes: a match sets mp.route_name and names the span `${method} ${name}`. */
  routes?: RouteRule[];
  /** Query parameter names whose values are scrubbed from url.full (default: token, sign, phone, …). */
  scrubQueryParams?: string[] | RegExp;
  /** Business return code from a response (Aegis' retCodeHandler); default: `x-app-error-code` header. */
  errorCode?: (response: any, request: any) => string | number | undefined | null;
  /** Change a span or log record, or return false to drop it. */
  beforeSend?: (record: Span | LogRecordData, signal: 'traces' | 'logs') => unknown;
  /** Replace the OTLP/JSON queue for spans (any OpenTelemetry SpanExporter) or for log records. */
  exporter?: SpanExporter;
  logExporter?: RecordExporter<LogRecordData>;
  /** Headers on telemetry requests (e.g. an ingest token). */
  headers?: Record<string, string>;
  queue?: Partial<Omit<QueueOptions, 'endpoint' | 'headers'>>;
  rateLimit?: { traces?: RateLimit; logs?: RateLimit };
  batch?: { maxSize?: number; delayMs?: number };
  /** Identical errors within this window are sent once plus one counted repeat record. */
  dedupWindowMs?: number;
  /** A new session.id after this long in the background (default 30 min). */
  sessionTimeoutMs?: number;
  instrumentRequests?: boolean;
  capturePages?: boolean;
  captureErrors?: boolean;
}

export interface MpOtel {
  /** For custom spans: `otel.tracer.startActiveSpan('checkout', span => { … span.end() })`. */
  readonly tracer: Tracer;
  captureException(error: unknown, attributes?: Attributes): void;
  /** Exports everything buffered and waits until the queue has sent what it can. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
  /** Queue state, for diagnostics. */
  stats(): { queuedPayloads: number; queuedBytes: number; queuedRecords: number };
}

/** token, access_token, sign, signature, phone, mobile, password, secret, ticket, session_key, openid, … */
const DEFAULT_SCRUB =
  /^(\w*token|sign(ature)?|phone|mobile|passw(or)?d|pwd|secret|ticket|session_?key|openid|unionid|id_?card)$/i;

let installed: MpOtel | undefined;

/** Never throws: on any failure the app gets a handle that does nothing. */
export function init(options: InitOptions): MpOtel {
  if (installed) return installed;
  try {
    installed = start(options);
  } catch {
    installed = undefined;
    return noop();
  }
  return installed;
}

function noop(): MpOtel {
  const done = () => Promise.resolve();
  return {
    tracer: trace.getTracer('@mp-otel/miniprogram'),
    captureException() {},
    flush: done,
    shutdown: done,
    stats: () => ({ queuedPayloads: 0, queuedBytes: 0, queuedRecords: 0 }),
  };
}

function start(options: InitOptions): MpOtel {
  const platform = detectPlatform(options.api, options.platform);
  if (!platform || !options.endpoint || !options.serviceName) return noop();
  const api = platform.api;
  const endpoint = options.endpoint.replace(/\/+$/, '');
  const scrub = options.scrubQueryParams || DEFAULT_SCRUB;
  // not `instanceof RegExp`: a RegExp may come from another realm
  const scrubQueryParams = Array.isArray(scrub) ? new RegExp(`^(${scrub.join('|')})$`, 'i') : scrub;

  const baseAttributes = detectResourceAttributes(platform, {
    serviceName: options.serviceName,
    serviceVersion: options.serviceVersion,
    environment: options.environment,
    attributes: options.resourceAttributes,
  });
  const sessionResource = () => resourceFromAttributes({ ...baseAttributes, 'session.id': randomHex(32) });
  let resource: Resource = sessionResource();

  const queue = new OfflineQueue(platform, {
    endpoint,
    headers: options.headers || {},
    maxBytes: 1024 * 1024,
    chunkBytes: 256 * 1024,
    maxInFlight: 2,
    timeoutMs: 10_000,
    storageKey: 'mp-otel.queue',
    ...options.queue,
  });
  const batch = options.batch || {};
  const batcher = <T>(exporter: RecordExporter<T>) =>
    new Batcher<T>(exporter, (n) => queue.count('queue_full', n), batch.maxSize, batch.delayMs);
  const routineSpans = batcher<ReadableSpan>(
    options.exporter || queuedOtlpExporter(queue, 'traces', PRIORITY_ROUTINE),
  );
  const errorSpans = batcher<ReadableSpan>(
    options.exporter || queuedOtlpExporter(queue, 'traces', PRIORITY_ERROR),
  );
  const logs = batcher<LogRecordData>(
    options.logExporter || queuedOtlpExporter(queue, 'logs', PRIORITY_ERROR),
  );

  const limits = options.rateLimit || {};
  const admitSpan = tokenBucket(limits.traces || { rate: 20, burst: 200 });
  const admitLog = tokenBucket(limits.logs || { rate: 2, burst: 30 });
  const hook = options.beforeSend;
  const runHook = (record: Span | LogRecordData, signal: 'traces' | 'logs') => {
    try {
      return hook ? hook(record, signal) !== false : true;
    } catch {
      return true; // a throwing hook drops nothing
    }
  };

  const processor = new ExportingProcessor({
    send: (span, isError) => (isError ? errorSpans : routineSpans).add(span),
    resource: () => resource,
    beforeSend: hook && ((span) => runHook(span, 'traces')),
    admit: admitSpan,
    onDrop: (reason) => queue.count(reason),
  });
  const provider = new TracerProvider({
    resource,
    sampler: new WeightedRatioSampler(options.sampleRate ?? 1),
    spanProcessors: [processor],
    spanLimits: {
      attributeValueLengthLimit: 4096,
      attributeCountLimit: 64,
      eventCountLimit: 32,
      linkCountLimit: 8,
    },
  });
  // Explicit context (no zone.js): lets app spans parent the request spans made inside them.
  context.setGlobalContextManager(new StackContextManager().enable());
  const tracer = provider.getTracer('@mp-otel/miniprogram', DISTRO_VERSION);
  const scope = { name: '@mp-otel/miniprogram', version: DISTRO_VERSION };

  const emitLog = (record: LogRecordData, force = false) => {
    if (!force && !admitLog()) return queue.count('rate_limited');
    if (runHook(record, 'logs')) logs.add(record);
  };
  const errors = new ErrorReporter({
    emit: emitLog,
    resource: () => resource,
    scope,
    pageRoute: currentPageRoute,
    dedupWindowMs: options.dedupWindowMs ?? 60_000,
  });
  /** The SDK reports its own losses, so that gaps in the data are visible downstream. */
  const reportDropped = () => {
    const dropped = queue.takeDropped();
    if (!dropped) return;
    const attributes: Attributes = {};
    for (const reason in dropped)
      attributes[`mp.dropped.${reason}`] = dropped[reason as keyof typeof dropped];
    const now = millisToHrTime(Date.now());
    emitLog(
      {
        hrTime: now,
        hrTimeObserved: now,
        severityNumber: SEVERITY_WARN,
        severityText: 'WARN',
        body: 'mp-otel dropped telemetry',
        eventName: 'mp.telemetry.dropped',
        attributes,
        droppedAttributesCount: 0,
        resource,
        instrumentationScope: scope,
      },
      true,
    );
  };

  let network = { type: 'unknown', subtype: undefined as string | undefined };
  const setNetwork = (networkType: unknown) => {
    const t = String(networkType || 'unknown').toLowerCase();
    network = /^[2-5]g$/.test(t)
      ? { type: 'cell', subtype: t }
      : { type: t === 'none' ? 'unavailable' : t === 'wifi' ? 'wifi' : 'unknown', subtype: undefined };
    queue.setOnline(t !== 'none');
  };
  call(api, 'getNetworkType', { success: (r: any) => setNetwork((r || {}).networkType) });

  const cleanups: Array<() => void> = [];
  const listen = (on: string, handler: (arg: any) => void) => {
    call(api, on, handler);
    cleanups.push(() => call(api, on.replace(/^on/, 'off'), handler));
  };
  listen('onNetworkStatusChange', (r = {}) => setNetwork(r.isConnected === false ? 'none' : r.networkType));

  const flushAll = async () => {
    errors.flush();
    reportDropped();
    await Promise.all([routineSpans.flush(), errorSpans.flush(), logs.flush()]);
    await queue.flush();
  };
  let hiddenAt = 0;
  listen('onAppHide', () => {
    hiddenAt = Date.now();
    flushAll().catch(() => {});
  });
  listen('onAppShow', () => {
    if (hiddenAt && Date.now() - hiddenAt > (options.sessionTimeoutMs ?? 30 * 60_000))
      resource = sessionResource();
    hiddenAt = 0;
    queue.pump();
  });

  if (options.instrumentRequests !== false) {
    cleanups.push(
      instrumentRequests({
        tracer,
        platform,
        endpoint,
        propagateTraceHeaderUrls: options.propagateTraceHeaderUrls,
        fingerprint: String(baseAttributes['mp.fingerprint']),
        fingerprintHeader: options.fingerprintHeader === true,
        routes: options.routes || [],
        scrubQueryParams,
        errorCode: options.errorCode,
        pageRoute: currentPageRoute,
        network: () => network,
      }),
    );
  }
  if (options.capturePages !== false) cleanups.push(observePages(api, tracer));
  if (options.captureErrors !== false) {
    listen('onError', (message) => errors.capture(message, { 'mp.error.source': 'onError' }));
    listen('onUnhandledRejection', (r = {}) =>
      errors.capture(r.reason, { 'mp.error.source': 'onUnhandledRejection' }),
    );
    listen('onPageNotFound', (r = {}) =>
      errors.capture(
        { name: 'PageNotFoundError', message: `page not found: ${r.path}`, stack: '' },
        { 'mp.error.source': 'onPageNotFound', 'mp.page.route': r.path },
      ),
    );
    listen('onMemoryWarning', (r = {}) =>
      errors.capture(
        { name: 'MemoryWarning', message: `memory warning level ${r.level}`, stack: '' },
        { 'mp.error.source': 'onMemoryWarning' },
      ),
    );
  }

  return {
    tracer,
    captureException: (error, attributes) => {
      try {
        errors.capture(error, { 'mp.error.source': 'captureException', ...attributes });
      } catch {}
    },
    flush: () => flushAll().catch(() => {}),
    shutdown: async () => {
      for (const cleanup of cleanups.splice(0)) cleanup();
      await flushAll().catch(() => {});
      await Promise.all([routineSpans.shutdown(), errorSpans.shutdown(), logs.shutdown()]).catch(() => {});
      queue.stop();
      installed = undefined;
    },
    stats: () => {
      const s = queue.size;
      return { queuedPayloads: s.entries, queuedBytes: s.bytes, queuedRecords: s.records };
    },
  };
}
