// OTLP/JSON trace requests (what the mini-program SDK sends) → otel_traces RowBinary straight from the
// parsed document, without protobufjs's verify/fromObject and without row objects. Like the protobuf wire
// path it must write exactly what the object path writes (test/json-traces.unit.test.ts compares the
// bytes); anything it would not treat identically — an id that is not 32/16 hex digits, a 64-bit integer
// that is not a plain decimal, an enum by name, an array/map/bytes value, a null, a snake_case field, a
// duplicate or integer-like key, a value of an unexpected type — throws Fallback, and the request goes
// the object path, which gives the same rows or the 400 with its message.

import { truncateUtf8 } from './limits.js';
import { Writer } from './rowbinary.js';
import {
  type Caps,
  charge,
  EVENT_CAPS,
  formatDouble,
  inWindow,
  limitAttributes,
  OTHER_CAPS,
  RESOURCE_CAPS,
  type RowContext,
  SPAN_CAPS,
  SPAN_KIND,
  STATUS_CODE,
} from './rows.js';
import type { RowMarks } from './sort-rows.js';
import { Fallback } from './wire-traces.js';

type J = Record<string, unknown>;

const no = (why: string): never => {
  throw new Fallback(why);
};

const INT_KEY = /^(?:0|[1-9]\d{0,9})$/;
const HEX = /^[0-9a-fA-F]*$/;
const U64 = /^\d{1,19}$/;
const I64 = /^-?\d{1,18}$/;

const K = (...keys: string[]) => new Set(keys);
const REQ = K('resourceSpans');
const RESOURCE_SPANS = K('resource', 'scopeSpans', 'schemaUrl');
const RESOURCE = K('attributes', 'droppedAttributesCount');
const SCOPE_SPANS = K('scope', 'spans', 'schemaUrl');
const SCOPE = K('name', 'version', 'attributes', 'droppedAttributesCount');
const SPAN = K(
  'traceId',
  'spanId',
  'parentSpanId',
  'traceState',
  'name',
  'kind',
  'startTimeUnixNano',
  'endTimeUnixNano',
  'attributes',
  'droppedAttributesCount',
  'events',
  'droppedEventsCount',
  'links',
  'droppedLinksCount',
  'status',
  'flags',
);
const EVENT = K('timeUnixNano', 'name', 'attributes', 'droppedAttributesCount');
const LINK = K('traceId', 'spanId', 'traceState', 'attributes', 'droppedAttributesCount', 'flags');
const STATUS = K('message', 'code');
const KEY_VALUE = K('key', 'value');
const COUNTS = K('droppedAttributesCount', 'droppedEventsCount', 'droppedLinksCount', 'flags');

/** An object with only the fields this path knows (others: Fallback); count fields must be uint32. */
function obj(x: unknown, allowed: Set<string>): J {
  if (x === undefined) return {};
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return no('not an object');
  for (const k in x as J) {
    if (!allowed.has(k)) no(`field ${k}`);
    const v = (x as J)[k];
    if (v === null) no('null');
    if (COUNTS.has(k) && !(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32))
      no('count');
    if (k === 'schemaUrl' && typeof v !== 'string') no('schemaUrl');
  }
  return x as J;
}

function arr(x: unknown): unknown[] {
  if (x === undefined) return [];
  if (!Array.isArray(x)) return no('not an array');
  return x;
}

function str(x: unknown): string {
  if (x === undefined) return '';
  if (typeof x !== 'string') return no('not a string');
  return x;
}

/** An enum given as a number within its values (names, and numbers verify() refuses, fall back). */
function enumValue(x: unknown, max: number): number {
  if (x === undefined) return 0;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > max) return no('enum');
  return x;
}

/** fixed64 nanoseconds: a decimal string or a safe integer. */
function u64(x: unknown): bigint {
  if (x === undefined) return 0n;
  if (typeof x === 'string' && U64.test(x)) {
    const v = BigInt(x);
    if (v >= 2n ** 64n) no('u64 range');
    return v;
  }
  if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) return BigInt(x);
  return no('not a u64');
}

/** hex id → the object path's rendering ('' for empty / all zero), or Fallback (its 400). */
function id(x: unknown, digits: number): string {
  if (x === undefined || x === '') return '';
  if (typeof x !== 'string' || x.length !== digits || !HEX.test(x)) return no('id');
  return /^0+$/.test(x) ? '' : x.toLowerCase();
}

/** AnyValue → string (only the kinds rendered the same without protobufjs). */
function value(v: unknown): string {
  if (v === undefined) return '';
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return no('not an object');
  const o = v as J;
  let out: string | undefined;
  let n = 0;
  for (const k in o) {
    const x = o[k];
    switch (k) {
      case 'stringValue':
        out = str(x);
        n++;
        break;
      case 'boolValue':
        if (typeof x !== 'boolean') no('bool');
        out = x ? 'true' : 'false';
        n++;
        break;
      case 'intValue':
        if (typeof x === 'string' && I64.test(x)) out = BigInt(x).toString();
        else if (typeof x === 'number' && Number.isSafeInteger(x)) out = String(x);
        else no('int');
        n++;
        break;
      case 'doubleValue':
        if (typeof x !== 'number') no('double');
        out = formatDouble(x as number);
        n++;
        break;
      case 'arrayValue':
      case 'kvlistValue':
      case 'bytesValue':
        no('array/map/bytes');
        break;
      default:
        no(`field ${k}`);
    }
  }
  if (n > 1) no('several value fields');
  return out ?? '';
}

interface Attr {
  key: string;
  value: string;
  str: boolean;
}

function attrs(x: unknown): Attr[] {
  const out: Attr[] = [];
  for (const kv of arr(x)) {
    const o = obj(kv, KEY_VALUE);
    const key = str(o.key);
    const v = o.value;
    out.push({ key, value: value(v), str: typeof v === 'object' && v !== null && 'stringValue' in v });
  }
  return out;
}

function cap(list: Attr[], caps: Caps): Attr[] {
  const seen = new Set<string>();
  for (const a of list) {
    if (seen.has(a.key) || (a.key.charCodeAt(0) <= 57 && INT_KEY.test(a.key)))
      no('duplicate or integer-like key');
    seen.add(a.key);
  }
  const kept = limitAttributes(list, caps);
  return kept.map((a) => (a.str ? { ...a, value: truncateUtf8(a.value, caps.valueBytes) } : a));
}

const bytesOf = (list: Attr[]): number => {
  let n = 2;
  for (const a of list) n += a.key.length + a.value.length + 6;
  return n;
};

function writeMap(out: Writer, list: Attr[], extra?: Record<string, string>): void {
  const extraKeys = extra ? Object.keys(extra).filter((k) => !list.some((a) => a.key === k)) : [];
  out.varint(list.length + extraKeys.length);
  for (const a of list) {
    out.str(a.key);
    out.str(a.value);
  }
  for (const k of extraKeys) {
    out.str(k);
    out.str((extra as Record<string, string>)[k] as string);
  }
}

/** Writes the rows of a parsed OTLP/JSON ExportTraceServiceRequest; returns the row count. */
export function jsonTraceRows(doc: unknown, ctx: RowContext, out: Writer, marks?: RowMarks): number {
  const extra = ctx.enrich?.attributes;
  let rows = 0;
  for (const rsx of arr(obj(doc, REQ).resourceSpans)) {
    const rs = obj(rsx, RESOURCE_SPANS);
    const res = cap(attrs(obj(rs.resource, RESOURCE).attributes), RESOURCE_CAPS);
    const resW = new Writer(256);
    writeMap(resW, res);
    const resBin = resW.take();
    const resBytes = bytesOf(res);
    const svc = res.find((a) => a.key === 'service.name')?.value ?? '';
    for (const ssx of arr(rs.scopeSpans)) {
      const ss = obj(ssx, SCOPE_SPANS);
      const scope = obj(ss.scope, SCOPE);
      const scopeName = str(scope.name);
      const scopeVersion = str(scope.version);
      attrs(scope.attributes); // not stored for spans, but verify() checks them
      for (const sx of arr(ss.spans)) {
        const s = obj(sx, SPAN);
        const traceId = id(s.traceId, 32);
        const spanId = id(s.spanId, 16);
        const parentId = id(s.parentSpanId, 16);
        const traceState = str(s.traceState);
        const name = str(s.name);
        const kind = enumValue(s.kind, 5);
        const start = u64(s.startTimeUnixNano);
        const end = u64(s.endTimeUnixNano);
        const status = obj(s.status, STATUS);
        const statusCode = enumValue(status.code, 2);
        const statusMsg = str(status.message);
        const spanAttrs = attrs(s.attributes);
        const events = arr(s.events).map((e) => {
          const o = obj(e, EVENT);
          return { time: u64(o.timeUnixNano), name: str(o.name), attrs: attrs(o.attributes) };
        });
        const links = arr(s.links).map((l) => {
          const o = obj(l, LINK);
          return {
            traceId: id(o.traceId, 32),
            spanId: id(o.spanId, 16),
            ts: str(o.traceState),
            attrs: attrs(o.attributes),
          };
        });
        if (!inWindow(ctx, start)) continue;
        const sa = cap(spanAttrs, SPAN_CAPS);
        const ea = events.map((e) => cap(e.attrs, EVENT_CAPS));
        const la = links.map((l) => cap(l.attrs, OTHER_CAPS));
        let extraBytes = 0;
        if (extra)
          for (const k of Object.keys(extra))
            if (!sa.some((a) => a.key === k)) extraBytes += k.length + (extra[k] as string).length + 6;
        let bytes = 400 + resBytes + bytesOf(sa) + extraBytes + name.length + statusMsg.length;
        for (const a of ea) bytes += 60 + bytesOf(a);
        for (const a of la) bytes += 80 + bytesOf(a);
        charge(ctx, bytes, 'span');
        const rowAt = out.pos;
        out.ns(start); // clamped to DateTime64(9) by the writer
        out.str(traceId);
        out.str(spanId);
        out.str(parentId);
        out.str(traceState);
        const nameAt = out.pos;
        out.str(name);
        out.str(SPAN_KIND[kind] ?? '');
        const svcAt = out.pos;
        out.str(svc);
        out.need(resBin.length);
        out.buf.set(resBin, out.pos);
        out.pos += resBin.length;
        out.str(scopeName);
        out.str(scopeVersion);
        writeMap(out, sa, extra);
        out.u64(end > start ? end - start : 0n);
        out.str(STATUS_CODE[statusCode] ?? '');
        out.str(statusMsg);
        out.varint(events.length);
        for (const e of events) out.ns(e.time);
        out.varint(events.length);
        for (const e of events) out.str(e.name);
        out.varint(events.length);
        for (const a of ea) writeMap(out, a);
        out.varint(links.length);
        for (const l of links) out.str(l.traceId);
        out.varint(links.length);
        for (const l of links) out.str(l.spanId);
        out.varint(links.length);
        for (const l of links) out.str(l.ts);
        out.varint(links.length);
        for (const a of la) writeMap(out, a);
        marks?.add(rowAt, nameAt, svcAt);
        rows++;
      }
    }
  }
  return rows;
}
