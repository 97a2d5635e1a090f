import { format } from 'node:util';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';

type Method = 'log' | 'info' | 'warn' | 'error' | 'debug';
const SEVERITY: Record<Method, [SeverityNumber, string]> = {
  debug: [SeverityNumber.DEBUG, 'DEBUG'],
  log: [SeverityNumber.INFO, 'INFO'],
  info: [SeverityNumber.INFO, 'INFO'],
  warn: [SeverityNumber.WARN, 'WARN'],
  error: [SeverityNumber.ERROR, 'ERROR'],
};

const ORIGINALS = Symbol.for('mp-otel.node.console.originals');
let inside = false;

export interface ConsoleOptions {
  /** Append ` trace_id=… span_id=…` to lines written inside a span (default true). */
  correlate: boolean;
  /** Also emit each line as an OTLP log record (default true). */
  toOtlp: boolean;
}

/**
 * Wraps console.log/info/warn/error/debug: lines written while a span is active get ` trace_id=<32 hex>
 * span_id=<16 hex>` appended, and every line is also emitted as a log record (which carries the trace context).
 */
export function instrumentConsole(options: ConsoleOptions): void {
  const c = console as unknown as Record<string | symbol, unknown>;
  if (c[ORIGINALS]) return;
  const originals: Partial<Record<Method, (...a: unknown[]) => void>> = {};
  for (const method of Object.keys(SEVERITY) as Method[]) {
    const original = console[method].bind(console) as (...a: unknown[]) => void;
    originals[method] = console[method] as (...a: unknown[]) => void;
    const [severityNumber, severityText] = SEVERITY[method];
    console[method] = (...args: unknown[]): void => {
      if (inside) {
        original(...args);
        return;
      }
      inside = true;
      try {
        const sc = trace.getActiveSpan()?.spanContext();
        const valid = sc !== undefined && isSpanContextValid(sc);
        if (options.toOtlp) {
          logs.getLogger('console').emit({ severityNumber, severityText, body: format(...args) });
        }
        if (options.correlate && valid) original(...args, `trace_id=${sc.traceId} span_id=${sc.spanId}`);
        else original(...args);
      } finally {
        inside = false;
      }
    };
  }
  c[ORIGINALS] = originals;
}

/**
 * A diag logger writing through the unwrapped console, so that OpenTelemetry's own diagnostics
 * (OTEL_LOG_LEVEL) are not turned into log records whose export produces more diagnostics.
 */
export function rawConsoleDiagLogger(): Record<
  'error' | 'warn' | 'info' | 'debug' | 'verbose',
  (...a: unknown[]) => void
> {
  const c = console as unknown as Record<string | symbol, unknown>;
  const o = (c[ORIGINALS] ?? {}) as Partial<Record<Method, (...a: unknown[]) => void>>;
  const pick =
    (m: Method) =>
    (...args: unknown[]) =>
      (o[m] ?? console[m]).apply(console, args);
  return {
    error: pick('error'),
    warn: pick('warn'),
    info: pick('info'),
    debug: pick('debug'),
    verbose: pick('debug'),
  };
}

export function restoreConsole(): void {
  const c = console as unknown as Record<string | symbol, unknown>;
  const originals = c[ORIGINALS] as Partial<Record<Method, (...a: unknown[]) => void>> | undefined;
  if (!originals) return;
  for (const [m, fn] of Object.entries(originals)) (console as unknown as Record<string, unknown>)[m] = fn;
  delete c[ORIGINALS];
}
