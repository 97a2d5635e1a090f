// @mp-otel/miniprogram: OpenTelemetry for mini-programs with one call in app.js, before App():
//   const otel = init({ serviceName: 'my-app', endpoint: 'https://otel.example.com', key, hosts })
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import { Breadcrumbs } from './breadcrumbs.js';
import { instrumentCloud } from './cloud.js';
import { ErrorReporter, SEVERITY_INFO, SEVERITY_WARN } from './errors.js';
import { Batcher, queuedOtlpExporter, type RecordExporter } from './export.js';
import { hookConstructors, type OptionsHook, tapHook, wrapMethod } from './hooks.js';
import type { LogRecordData } from './otlp.js';
import { resourceChanged } from './otlp.js';
import { currentPageRoute, epochClock, observePages } from './pages.js';
import { call, callAsync, detectPlatform } from './platform.js';
import {
  type DropReason,
  OfflineQueue,
  PRIORITY_ERROR,
  PRIORITY_ROUTINE,
  type QueueOptions,
} from './queue.js';
import {
  defaultHosts,
  hostMatcher,
  instrumentRequests,
  matches,
  type RequestContext,
  type RouteRule,
  type UrlMatcher,
} from './requests.js';
import { DISTRO_VERSION, detectResourceAttributes, hashUserId } from './resource.js';
import { DEFAULT_SECRET_PARAMS } from './scrub.js';
import { instrumentSockets } from './socket.js';
import { guardAppStorage } from './storage.js';
import { randomHex } from './text.js';
import { activeContext, type MpSpan, MpTracer, millisToHrTime, type Resource, spanOf } from './tracer.js';

export { hashUserId, shortHash } from './resource.js';
export { scrubUrl } from './scrub.js';
export type { LogRecordData, OptionsHook, RouteRule, UrlMatcher };

/** The request header that carries the app's public ingest key (INGEST_KEY_HEADER in @mp-otel/contracts). */
export const INGEST_KEY_HEADER = 'x-mp-otel-key';
const DEVICE_KEY = 'mp-otel.device';

export interface RateLimit {
  /** records per second */
  rate: number;
  burst: number;
}

export interface InitOptions {
  serviceName: string;
  /** Collector base URL: traces go to `${endpoint}/v1/traces`, logs to `${endpoint}/v1/logs`. */
  endpoint: string;
  /** The app's public ingest key (the catalog's `apps[].keys`), sent as `x-mp-otel-key`. */
  key?: string;
  /**
   * The app's own API hosts (the catalog's `apps[].hosts`): only requests to these get traceparent and
   * baggage. `*.example.com` matches subdomains. Default: the endpoint's host and its parent domain.
   */
  hosts?: string[];
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
  /** Narrows propagation further to URL prefixes or RegExps (replaces the `hosts` rule when given). */
  propagateTraceHeaderUrls?: UrlMatcher[];
  /** Also send `x-mp-fingerprint` on business requests, for gateways that cannot read baggage. */
  fingerprintHeader?: boolean;
  /** Catalog routes: a match sets mp.route_name and names the span `${method} ${name}`. */
  routes?: RouteRule[];
  /** Query/fragment parameter names whose values are scrubbed from url.full (replaces the default list). */
  scrubQueryParams?: string[] | RegExp;
  /** Business return code from a response (Aegis' retCodeHandler); default: `x-app-error-code` header. */
  errorCode?: (response: any, request: any) => string | number | undefined | null;
  /** Change a span or log record, or return false to drop it. */
  beforeSend?: (record: Span | LogRecordData, signal: 'traces' | 'logs') => unknown;
  /** Replace the OTLP/JSON queue for spans (any OpenTelemetry SpanExporter) or for log records. */
  exporter?: RecordExporter<any>;
  logExporter?: RecordExporter<LogRecordData>;
  /** Headers on telemetry requests. */
  headers?: Record<string, string>;
  queue?: Partial<Omit<QueueOptions, 'endpoint' | 'headers'>>;
  rateLimit?: { traces?: RateLimit; logs?: RateLimit };
  batch?: { maxSize?: number; delayMs?: number };
  /** Identical errors within this window are sent once plus one counted repeat record. */
  dedupWindowMs?: number;
  /** A new session.id after this long in the background (default 30 min). */
  sessionTimeoutMs?: number;
  /** How many breadcrumbs each exception carries (default 20; 0 = none). */
  breadcrumbs?: number;
  /** setUser's default: hash the id (with this salt) instead of sending it. */
  hashUserId?: boolean | { salt: string };
  instrumentRequests?: boolean;
  instrumentSockets?: boolean;
  instrumentCloud?: boolean;
  capturePages?: boolean;
  captureErrors?: boolean;
  /** Taps and page shows as breadcrumbs, by wrapping Page() and Component() (default true). */
  captureTaps?: boolean;
  plugins?: Plugin[];
}

/** What a plugin (a separate entry point, e.g. `@mp-otel/miniprogram/render`) gets to work with. */
export interface PluginContext {
  api: any;
  tracer: Tracer;
  /** Epoch milliseconds from a base-library timestamp of either base (see pages.ts). */
  toEpoch(time: number, end?: number): number;
  breadcrumb(category: string, message: string): void;
  captureException(error: unknown, attributes?: Attributes): void;
  event(name: string, attributes?: Attributes, severity?: 'info' | 'warn'): void;
  pageRoute(): string | undefined;
  /** Sees every Page()/Component() options object declared from now on. */
  onOptions(hook: OptionsHook): void;
  /** Subscribes to a host event (`onAppHide`, …) until shutdown. */
  listen(on: string, handler: (arg: any) => void): void;
}

export interface Plugin {
  name: string;
  setup(context: PluginContext): (() => void) | undefined;
}

export interface MpOtel {
  /** For custom spans: `otel.tracer.startActiveSpan('checkout', span => { … span.end() })`. */
  readonly tracer: Tracer;
  captureException(error: unknown, attributes?: Attributes): void;
  /** A user (on every span and log record from now on), or null after logout. */
  setUser(user: { id: string } | null, options?: { hash?: boolean; salt?: string }): void;
  /** A custom event: a log record with this event name (Aegis' reportEvent). */
  event(name: string, attributes?: Attributes): void;
  /** A measured duration as a span that ended now (Aegis' reportTime). */
  timing(name: string, durationMs: number, attributes?: Attributes): void;
  breadcrumb(category: string, message: string): void;
  /** Adds a plugin, e.g. from a subpackage: `getApp().globalData.otel.use(renderPerformance())`. */
  use(plugin: Plugin): void;
  /** Exports everything buffered and waits until the queue has sent what it can. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
  /** Queue state and losses, for diagnostics. */
  stats(): {
    queuedPayloads: number;
    queuedBytes: number;
    queuedRecords: number;
    storedBytes: number;
    dropped: Partial<Record<DropReason, number>>;
  };
}

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
  const nothing = () => {};
  const tracer = new MpTracer({
    resource: () => ({ attributes: {} }),
    scope: { name: '' },
    ratio: 0,
    onEnd: nothing,
  });
  return {
    tracer,
    captureException: nothing,
    setUser: nothing,
    event: nothing,
    timing: nothing,
    breadcrumb: nothing,
    use: nothing,
    flush: done,
    shutdown: done,
    stats: () => ({ queuedPayloads: 0, queuedBytes: 0, queuedRecords: 0, storedBytes: 0, dropped: {} }),
  };
}

/** A token bucket: `rate` records per second, bursts up to `burst`. */
function tokenBucket({ rate, burst }: RateLimit): () => boolean {
  let tokens = burst;
  let last = Date.now();
  return () => {
    const now = Date.now();
    tokens = Math.min(burst, tokens + ((now - last) * rate) / 1000);
    last = now;
    if (tokens < 1) return false;
    tokens--;
    return true;
  };
}

function start(options: InitOptions): MpOtel {
  const platform = detectPlatform(options.api, options.platform);
  if (!platform || !options.endpoint || !options.serviceName) return noop();
  const api = platform.api;
  const endpoint = options.endpoint.replace(/\/+$/, '');
  const scrub = options.scrubQueryParams || DEFAULT_SECRET_PARAMS;
  // not `instanceof RegExp`: a RegExp may come from another realm
  const secretParams = Array.isArray(scrub) ? new RegExp(`^(${scrub.join('|')})$`, 'i') : scrub;
  const scope = { name: '@mp-otel/miniprogram', version: DISTRO_VERSION };
  const cleanups: Array<() => void> = [];
  const crumbs = new Breadcrumbs(options.breadcrumbs ?? 20);

  // Resource: the fingerprint, this session, this device, and the user once known.
  const baseAttributes = detectResourceAttributes(platform, {
    serviceName: options.serviceName,
    serviceVersion: options.serviceVersion,
    environment: options.environment,
    attributes: options.resourceAttributes,
  });
  let sessionId = randomHex(32);
  let deviceId: string | undefined;
  let user: Attributes = {};
  const awaitingDevice: Resource[] = [];
  const makeResource = (): Resource => {
    const r = { attributes: { ...baseAttributes, 'session.id': sessionId, 'device.id': deviceId, ...user } };
    if (!deviceId) awaitingDevice.push(r);
    return r;
  };
  let resource = makeResource();
  // A persistent anonymous id (for UV): read asynchronously, never blocking launch; nothing is exported
  // until it is known, so every record carries it.
  const identityReady = callAsync(api, 'getStorage', { key: DEVICE_KEY }).then((r) => {
    const stored = r && r.data;
    deviceId = typeof stored === 'string' && /^[0-9a-f]{32}$/.test(stored) ? stored : randomHex(32);
    if (stored !== deviceId) callAsync(api, 'setStorage', { key: DEVICE_KEY, data: deviceId });
    for (const r of awaitingDevice.splice(0)) {
      r.attributes['device.id'] = deviceId;
      resourceChanged(r);
    }
  });

  const queueOptions: QueueOptions = {
    endpoint,
    headers: { ...options.headers, ...(options.key ? { [INGEST_KEY_HEADER]: options.key } : {}) },
    maxBytes: 1024 * 1024,
    chunkBytes: 256 * 1024,
    maxInFlight: 2,
    timeoutMs: 10_000,
    storageKey: 'mp-otel.queue',
    maxRetries: 8,
    reserveBytes: 1024 * 1024,
    ...options.queue,
  };
  const queue = new OfflineQueue(platform, queueOptions, () => {
    try {
      console.warn(
        '[mp-otel] the telemetry endpoint refused the ingest key (401): telemetry is off until the next launch',
      );
    } catch {}
  });
  const ownKey = (key: string) =>
    key === DEVICE_KEY || (!!queueOptions.storageKey && key.indexOf(queueOptions.storageKey) === 0);
  cleanups.push(guardAppStorage(api, ownKey, () => queue.yieldStorage()));

  const batch = options.batch || {};
  const batcher = <T>(exporter: RecordExporter<T>) =>
    new Batcher<T>(
      exporter,
      (n) => queue.count('queue_full', n),
      identityReady,
      batch.maxSize,
      batch.delayMs,
    );
  const routineSpans = batcher(options.exporter || queuedOtlpExporter(queue, 'traces', PRIORITY_ROUTINE));
  const errorSpans = batcher(options.exporter || queuedOtlpExporter(queue, 'traces', PRIORITY_ERROR));
  const logs = batcher(options.logExporter || queuedOtlpExporter(queue, 'logs', PRIORITY_ERROR));
  const eventLogs = batcher(options.logExporter || queuedOtlpExporter(queue, 'logs', PRIORITY_ROUTINE));
  const batchers = [routineSpans, errorSpans, logs, eventLogs];

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
  const tracer = new MpTracer({
    resource: () => resource,
    scope,
    ratio: options.sampleRate ?? 1,
    beforeEnd: hook && ((span: MpSpan) => runHook(span, 'traces')),
    onEnd: (span: MpSpan) => {
      if (!admitSpan()) return queue.count('rate_limited');
      (span.status.code === 2 ? errorSpans : routineSpans).add(span);
    },
  });

  const record = (
    severity: number,
    body: string,
    eventName: string,
    attributes: Attributes,
  ): LogRecordData => {
    const now = millisToHrTime(Date.now());
    const active = spanOf(activeContext());
    return {
      hrTime: now,
      hrTimeObserved: now,
      spanContext: active && active.spanContext(),
      severityNumber: severity,
      severityText: severity === SEVERITY_WARN ? 'WARN' : 'INFO',
      body,
      eventName,
      attributes,
      droppedAttributesCount: 0,
      resource,
      instrumentationScope: scope,
    };
  };
  const emitLog = (r: LogRecordData, routine = false, force = false) => {
    if (!force && !admitLog()) return queue.count('rate_limited');
    if (runHook(r, 'logs')) (routine ? eventLogs : logs).add(r);
  };
  const errors = new ErrorReporter({
    admit: () => {
      if (admitLog()) return true;
      queue.count('rate_limited');
      return false;
    },
    emit: (r) => emitLog(r, false, true),
    resource: () => resource,
    scope,
    pageRoute: currentPageRoute,
    dedupWindowMs: options.dedupWindowMs ?? 60_000,
    breadcrumbs: crumbs,
  });
  const capture = (error: unknown, attributes?: Attributes) => {
    try {
      errors.capture(error, { 'mp.error.source': 'captureException', ...attributes });
    } catch {}
  };
  const event = (name: string, attributes?: Attributes, severity?: 'info' | 'warn') => {
    try {
      crumbs.add('event', name);
      const level = severity === 'warn' ? SEVERITY_WARN : SEVERITY_INFO;
      emitLog(
        record(level, name, name, { 'mp.page.route': currentPageRoute(), ...attributes }),
        level === SEVERITY_INFO,
      );
    } catch {}
  };
  /** The SDK reports its own losses, so that gaps in the data are visible downstream. */
  const reportDropped = () => {
    const dropped = queue.takeDropped();
    if (!dropped) return;
    const attributes: Attributes = {};
    for (const reason in dropped) attributes[`mp.dropped.${reason}`] = dropped[reason as DropReason];
    emitLog(
      record(SEVERITY_WARN, 'mp-otel dropped telemetry', 'mp.telemetry.dropped', attributes),
      false,
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

  const listen = (on: string, handler: (arg: any) => void) => {
    call(api, on, handler);
    cleanups.push(() => call(api, on.replace(/^on/, 'off'), handler));
  };
  listen('onNetworkStatusChange', (r = {}) => setNetwork(r.isConnected === false ? 'none' : r.networkType));

  const flushAll = async () => {
    errors.flush();
    reportDropped();
    await Promise.all(batchers.map((b) => b.flush()));
    await queue.flush();
  };
  let hiddenAt = 0;
  listen('onAppHide', () => {
    hiddenAt = Date.now();
    crumbs.add('app', 'hide');
    queue.refreshBudget();
    flushAll()
      .then(() => queue.persistAll())
      .catch(() => {});
  });
  listen('onAppShow', () => {
    if (hiddenAt && Date.now() - hiddenAt > (options.sessionTimeoutMs ?? 30 * 60_000)) {
      sessionId = randomHex(32);
      resource = makeResource();
    }
    hiddenAt = 0;
    crumbs.add('app', 'show');
    queue.pump();
  });

  const hosts = hostMatcher(options.hosts || defaultHosts(endpoint));
  const allow = options.propagateTraceHeaderUrls;
  const requestContext: RequestContext = {
    tracer,
    platform,
    endpoint,
    propagateTo: allow ? (url) => allow.some((m) => matches(url, m)) : (_url, host) => hosts(host),
    fingerprint: String(baseAttributes['mp.fingerprint']),
    fingerprintHeader: options.fingerprintHeader === true,
    routes: options.routes || [],
    secretParams,
    errorCode: options.errorCode,
    pageRoute: currentPageRoute,
    network: () => network,
    breadcrumbs: crumbs,
  };
  if (options.instrumentRequests !== false) cleanups.push(instrumentRequests(requestContext));
  if (options.instrumentSockets !== false) cleanups.push(instrumentSockets(requestContext));
  if (options.instrumentCloud !== false) cleanups.push(instrumentCloud(requestContext));
  if (options.capturePages !== false) cleanups.push(observePages(api, tracer, crumbs));

  const optionHooks: OptionsHook[] = [];
  if (options.captureTaps !== false) {
    optionHooks.push(tapHook((message) => crumbs.add('ui', message)));
    optionHooks.push((o, kind) => {
      if (kind === 'page')
        wrapMethod(o, 'onShow', (self) => crumbs.add('navigation', `show ${self.route || self.__route__}`));
    });
  }
  cleanups.push(hookConstructors(optionHooks));

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

  const toEpoch = epochClock(call(api, 'getPerformance'));
  const pluginContext: PluginContext = {
    api,
    tracer,
    toEpoch,
    breadcrumb: (category, message) => crumbs.add(category, message),
    captureException: capture,
    event,
    pageRoute: currentPageRoute,
    onOptions: (h) => optionHooks.push(h),
    listen,
  };
  const use = (plugin: Plugin) => {
    try {
      const stop = plugin.setup(pluginContext);
      if (typeof stop === 'function') cleanups.push(stop);
    } catch {}
  };
  for (const plugin of options.plugins || []) use(plugin);

  const userOptions = options.hashUserId;
  return {
    tracer,
    captureException: capture,
    setUser(u, o = {}) {
      try {
        const salt = o.salt ?? (typeof userOptions === 'object' ? userOptions.salt : undefined);
        const hash = o.hash ?? !!userOptions;
        const id = u && u.id !== undefined && u.id !== null ? String(u.id) : '';
        user = !id ? {} : hash ? { 'user.hash': hashUserId(id, salt) } : { 'user.id': id };
        resource = makeResource();
      } catch {}
    },
    event: (name, attributes) => event(name, attributes),
    timing(name, durationMs, attributes) {
      try {
        const end = Date.now();
        const span = tracer.startSpan(name, {
          startTime: end - Math.max(0, Number(durationMs) || 0),
          attributes,
        });
        span.setAttribute('mp.page.route', currentPageRoute());
        span.end(end);
      } catch {}
    },
    breadcrumb: (category, message) => crumbs.add(String(category), String(message)),
    use,
    flush: () => flushAll().catch(() => {}),
    shutdown: async () => {
      for (const cleanup of cleanups.splice(0).reverse()) {
        try {
          cleanup();
        } catch {}
      }
      await flushAll().catch(() => {});
      await Promise.all(batchers.map((b) => b.shutdown())).catch(() => {});
      queue.stop();
      installed = undefined;
    },
    stats: () => {
      const s = queue.size;
      return {
        queuedPayloads: s.entries,
        queuedBytes: s.bytes,
        queuedRecords: s.records,
        storedBytes: s.storedBytes,
        dropped: queue.dropped,
      };
    },
  };
}
