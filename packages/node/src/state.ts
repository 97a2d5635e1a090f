import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Span } from '@opentelemetry/api';

/**
 * Process-wide state shared by every copy of this module (ESM import and CommonJS require of the package
 * resolve to one instance on Node >= 20.19, but a bundled copy may not: keep state on globalThis).
 */
interface MpOtelState {
  serverSpans: WeakMap<object, Span>;
  sizeThresholds: number[];
}

const KEY = Symbol.for('mp-otel.node.state');
const g = globalThis as unknown as Record<symbol, MpOtelState | undefined>;

if (!g[KEY]) {
  g[KEY] = { serverSpans: new WeakMap(), sizeThresholds: [100 * 1024, 1024 * 1024, 5 * 1024 * 1024] };
}
export const state: MpOtelState = g[KEY];

/** The SERVER span that @opentelemetry/instrumentation-http opened for this request or response. */
export function serverSpanFor(reqOrRes: IncomingMessage | ServerResponse | object): Span | undefined {
  return state.serverSpans.get(reqOrRes);
}

export function rememberServerSpan(reqOrRes: object, span: Span): void {
  state.serverSpans.set(reqOrRes, span);
}
