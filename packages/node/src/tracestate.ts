// W3C Trace Context `tracestate` validation (https://www.w3.org/TR/trace-context/#tracestate-header).
// OpenTelemetry JS's TraceState drops invalid list members one by one and keeps the rest (and keeps the first
// 32 of a longer list); the specification says a vendor that fails to parse tracestate MUST NOT propagate it.
// StrictW3CTraceContextPropagator extracts like W3CTraceContextPropagator, then discards the whole
// tracestate when the received header breaks any rule below (the traceparent is kept).
import { type Context, type TextMapGetter, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/** At most this many list members (more: the whole tracestate is invalid). */
export const MAX_TRACESTATE_MEMBERS = 32;

// key = simple-key / multi-tenant-key
//   simple-key       = lcalpha 0*255( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
//   multi-tenant-key = tenant-id "@" system-id
//   tenant-id        = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
//   system-id        = lcalpha 0*13( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
const SIMPLE_KEY = /^[a-z][a-z0-9_\-*/]{0,255}$/;
const MULTI_TENANT_KEY = /^[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}$/;
// value = 0*255(chr) nblk-chr;  nblk-chr = %x21-2B / %x2D-3C / %x3E-7E;  chr = %x20 / nblk-chr
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

export type TraceStateProblem =
  | 'illegal-key'
  | 'key-too-long'
  | 'illegal-value'
  | 'too-many-members'
  | 'duplicate-key';

/**
 * Why a received tracestate (all header values joined with ',') is invalid, or undefined when it is valid.
 * Empty list members and optional white space (space, tab) around members are allowed.
 */
export function traceStateProblem(header: string): TraceStateProblem | undefined {
  const keys = new Set<string>();
  let members = 0;
  for (const raw of header.split(',')) {
    const member = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (member === '') continue;
    members++;
    if (members > MAX_TRACESTATE_MEMBERS) return 'too-many-members';
    const eq = member.indexOf('=');
    if (eq <= 0) return 'illegal-key';
    const key = member.slice(0, eq);
    const value = member.slice(eq + 1);
    if (!SIMPLE_KEY.test(key) && !MULTI_TENANT_KEY.test(key)) {
      const shape = /^[a-z0-9][a-z0-9_\-*/]*(@[a-z][a-z0-9_\-*/]*)?$/.test(key);
      return shape ? 'key-too-long' : 'illegal-key';
    }
    if (!VALUE.test(value)) return 'illegal-value';
    if (keys.has(key)) return 'duplicate-key';
    keys.add(key);
  }
  return undefined;
}

/** W3C traceparent/tracestate propagation that drops an invalid tracestate as a whole. */
export class StrictW3CTraceContextPropagator extends W3CTraceContextPropagator {
  override extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const out = super.extract(context, carrier, getter);
    const span = trace.getSpanContext(out);
    if (!span?.traceState || span === trace.getSpanContext(context)) return out;
    const header = getter.get(carrier, 'tracestate');
    const raw = Array.isArray(header) ? header.join(',') : (header ?? '');
    if (traceStateProblem(raw) === undefined) return out;
    const { traceState: _dropped, ...rest } = span;
    return trace.setSpanContext(context, rest);
  }
}
