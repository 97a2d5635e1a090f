import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  ATTR_TELEMETRY_DISTRO_NAME,
  ATTR_TELEMETRY_DISTRO_VERSION,
  DISTRO_NAME,
} from '@mp-otel/contracts/names';
import { DiagLogLevel, diag, isSpanContextValid, type Span } from '@opentelemetry/api';
import { BaggageSpanProcessor } from '@opentelemetry/baggage-span-processor';
import { CompositePropagator, diagLogLevelFromString, W3CBaggagePropagator } from '@opentelemetry/core';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import {
  defaultResource,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { instrumentConsole, rawConsoleDiagLogger, restoreConsole } from './console.js';
import { parseSizeBuckets, setImageSizeBuckets } from './image-metrics.js';
import { rememberServerSpan } from './state.js';
import { StrictW3CTraceContextPropagator } from './tracestate.js';
import { VERSION } from './version.js';

export interface StartOptions {
  /** service.name; default OTEL_SERVICE_NAME, else the `name` in ./package.json (scope dropped). */
  serviceName?: string;
  /** Extra resource attributes (OTEL_RESOURCE_ATTRIBUTES still applies). */
  resourceAttributes?: Record<string, string | number | boolean>;
  /** Baggage keys copied onto every span: a prefix list (default ['mp.']) or a predicate. */
  baggageKeys?: string[] | ((key: string) => boolean);
  /** Add a W3C Trace Context Level 2 `traceresponse` header to every HTTP response (default true). */
  traceResponseHeader?: boolean;
  /** Append trace ids to console lines (default true; env MP_OTEL_CONSOLE_CORRELATION=false). */
  consoleCorrelation?: boolean;
  /** Send console lines as OTLP log records (default true; env MP_OTEL_CONSOLE_LOGS=false). */
  consoleToOtlp?: boolean;
  /** Image size-bucket thresholds in bytes (default 100 KB, 1 MB, 5 MB; env MP_OTEL_IMAGE_SIZE_BUCKETS). */
  imageSizeBuckets?: number[];
  /** Incoming paths not traced (default: none). */
  ignoreIncomingPaths?: (string | RegExp)[];
  /** More instrumentations, added to http, undici and pino. */
  instrumentations?: Instrumentation[];
  /** On SIGTERM/SIGINT flush and shut down; exit when nobody else handles the signal (default true). */
  handleSignals?: boolean;
}

export interface MpOtelHandle {
  sdk: NodeSDK;
  /** Flushes and shuts down traces, metrics and logs; never rejects; bounded by `timeoutMs` (default 5 s). */
  shutdown(timeoutMs?: number): Promise<void>;
}

const STARTED = Symbol.for('mp-otel.node.started');
const g = globalThis as unknown as Record<symbol, MpOtelHandle | undefined>;

function envFlag(name: string, fallback: boolean): boolean {
  const v = process.env[name]?.trim().toLowerCase();
  if (v === undefined || v === '') return fallback;
  return !(v === 'false' || v === '0' || v === 'no' || v === 'off');
}

/** OTEL_SDK_DISABLED, as the SDK reads it (case-insensitive "true"). */
export function sdkDisabled(): boolean {
  return process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
}

function packageServiceName(): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { name?: unknown };
    if (typeof pkg.name === 'string' && pkg.name) return pkg.name.replace(/^@[^/]+\//, '');
  } catch {
    // no package.json: leave it to OTel's default (unknown_service:node)
  }
  return undefined;
}

function hasServiceNameInEnv(): boolean {
  if (process.env.OTEL_SERVICE_NAME?.trim()) return true;
  return /(^|,)\s*service\.name\s*=/.test(process.env.OTEL_RESOURCE_ATTRIBUTES ?? '');
}

/** `00-<trace-id>-<span-id>-<flags>` (W3C Trace Context Level 2 traceresponse). */
export function traceResponseValue(span: Span): string | undefined {
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The env-configured span processors of sdk-node (OTEL_TRACES_EXPORTER, OTLP protocol, OTEL_BSP_*). */
function spanProcessorsFromEnv(): unknown[] {
  // sdk-node does not export this from its index; the version is pinned exactly in package.json.
  const require = createRequire(import.meta.url);
  const utils = require('@opentelemetry/sdk-node/build/src/utils.js') as {
    getSpanProcessorsFromEnv: () => unknown[];
  };
  return utils.getSpanProcessorsFromEnv();
}

/**
 * Starts OpenTelemetry for this process: traces, metrics and logs over OTLP (all OTEL_* variables honoured),
 * http + undici (fetch) + pino instrumentation, mp.* baggage on spans, traceresponse header, console
 * correlation. Idempotent: a second call returns the first handle.
 */
export function start(options: StartOptions = {}): MpOtelHandle {
  const existing = g[STARTED];
  if (existing) return existing;
  if (sdkDisabled()) {
    // OTEL_SDK_DISABLED=true: patch nothing at all (instrumentations would still wrap http even with a no-op SDK).
    const noop: MpOtelHandle = { sdk: new NodeSDK({ autoDetectResources: false }), shutdown: async () => {} };
    g[STARTED] = noop;
    return noop;
  }

  const sizeEnv = process.env.MP_OTEL_IMAGE_SIZE_BUCKETS;
  if (options.imageSizeBuckets) setImageSizeBuckets(options.imageSizeBuckets);
  else if (sizeEnv) {
    try {
      setImageSizeBuckets(parseSizeBuckets(sizeEnv));
    } catch (err) {
      diag.warn(`mp-otel: ignoring MP_OTEL_IMAGE_SIZE_BUCKETS: ${(err as Error).message}`);
    }
  }

  const baggage = options.baggageKeys ?? ['mp.'];
  const baggagePredicate =
    typeof baggage === 'function'
      ? baggage
      : (key: string) => baggage.some((prefix) => key.startsWith(prefix));
  const traceResponse = options.traceResponseHeader ?? true;
  const ignored = options.ignoreIncomingPaths ?? [];

  const http = new HttpInstrumentation({
    ignoreIncomingRequestHook: ignored.length
      ? (req) => {
          const path = (req.url ?? '/').split('?')[0] ?? '/';
          return ignored.some((p) => (typeof p === 'string' ? p === path : p.test(path)));
        }
      : undefined,
    requestHook: (span, req) => {
      // Incoming requests only (outgoing ones are ClientRequest, which has no `socket.server`-less marker;
      // IncomingMessage is what servers get).
      if ((req as { constructor?: { name?: string } }).constructor?.name === 'IncomingMessage') {
        rememberServerSpan(req, span);
      }
    },
    responseHook: (span, res) => {
      // For SERVER spans this runs before the handler, with the ServerResponse: headers can still be set.
      const r = res as ServerResponse;
      if (typeof r.setHeader !== 'function' || typeof r.writeHead !== 'function') return;
      rememberServerSpan(r, span);
      if (traceResponse && !r.headersSent) {
        const value = traceResponseValue(span);
        if (value) r.setHeader('traceresponse', value);
      }
    },
  });

  const serviceName = options.serviceName ?? (hasServiceNameInEnv() ? undefined : packageServiceName());
  const resource = defaultResource().merge(
    resourceFromAttributes({
      [ATTR_TELEMETRY_DISTRO_NAME]: DISTRO_NAME,
      [ATTR_TELEMETRY_DISTRO_VERSION]: VERSION,
      ...options.resourceAttributes,
    }),
  );

  const envProcessors = spanProcessorsFromEnv();
  const spanProcessors =
    envProcessors.length > 0 ? [new BaggageSpanProcessor(baggagePredicate), ...envProcessors] : [];

  const sdk = new NodeSDK({
    ...(serviceName ? { serviceName } : {}),
    resource,
    // sdk-node's default order (env, process, host) lets the host detector's host.name override
    // OTEL_RESOURCE_ATTRIBUTES; what the operator set explicitly must win, so env goes last.
    ...(process.env.OTEL_NODE_RESOURCE_DETECTORS
      ? {}
      : { resourceDetectors: [processDetector, hostDetector, envDetector] }),
    // Types differ between sdk-trace(-base) copies; the shapes are the same SpanProcessor interface.
    spanProcessors: spanProcessors as never,
    // The default propagators (tracecontext, baggage), with an invalid tracestate dropped as the W3C
    // specification requires (OpenTelemetry JS keeps its valid members). OTEL_PROPAGATORS still wins.
    ...(process.env.OTEL_PROPAGATORS
      ? {}
      : {
          textMapPropagator: new CompositePropagator({
            propagators: [new StrictW3CTraceContextPropagator(), new W3CBaggagePropagator()],
          }),
        }),
    instrumentations: [
      http,
      new UndiciInstrumentation(),
      new PinoInstrumentation(),
      ...(options.instrumentations ?? []),
    ],
  });

  let shuttingDown: Promise<void> | undefined;
  const handle: MpOtelHandle = {
    sdk,
    shutdown(timeoutMs = 5000) {
      shuttingDown ??= (async () => {
        restoreConsole();
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
          timer.unref();
        });
        try {
          await Promise.race([
            sdk.shutdown().catch((err) => diag.warn(`mp-otel: shutdown: ${err}`)),
            timeout,
          ]);
        } finally {
          if (timer) clearTimeout(timer);
          g[STARTED] = undefined;
        }
      })();
      return shuttingDown;
    },
  };

  try {
    sdk.start();
  } catch (err) {
    // Never take the service down because telemetry could not start.
    process.stderr.write(`mp-otel: OpenTelemetry SDK failed to start: ${(err as Error).stack ?? err}\n`);
  }

  const correlate = options.consoleCorrelation ?? envFlag('MP_OTEL_CONSOLE_CORRELATION', true);
  const toOtlp = options.consoleToOtlp ?? envFlag('MP_OTEL_CONSOLE_LOGS', true);
  if (correlate || toOtlp) {
    instrumentConsole({ correlate, toOtlp });
    const level = process.env.OTEL_LOG_LEVEL?.trim();
    if (level && level.toUpperCase() !== 'NONE') {
      diag.setLogger(rawConsoleDiagLogger(), {
        logLevel: diagLogLevelFromString(level) ?? DiagLogLevel.INFO,
        suppressOverrideMessage: true,
      });
    }
  }

  if (options.handleSignals ?? true) installSignalHandlers(handle);
  g[STARTED] = handle;
  return handle;
}

function installSignalHandlers(handle: MpOtelHandle): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const onSignal = (): void => {
      const othersListen = process.listenerCount(signal) > 1;
      process.removeListener(signal, onSignal);
      void handle.shutdown().then(() => {
        // If the application handles the signal itself, let it decide when to exit.
        if (!othersListen) process.kill(process.pid, signal);
      });
    };
    process.on(signal, onSignal);
  }
}

/** Shuts down the SDK started by {@link start} (no-op when none). */
export async function shutdown(timeoutMs?: number): Promise<void> {
  await g[STARTED]?.shutdown(timeoutMs);
}

/** The running handle, if {@link start} was called in this process. */
export function current(): MpOtelHandle | undefined {
  return g[STARTED];
}
