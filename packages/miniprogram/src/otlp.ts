// OTLP/JSON (the protobuf JSON mapping the collector and the store accept): spans and log records,
// grouped by resource and scope, ids in hex, times as decimal nanosecond strings. Written for this SDK
// rather than taken from @opentelemetry/otlp-transformer, which builds the same document through three
// layers of objects and then UTF-8 encodes it, only for the queue to keep it as a string; the unit tests
// compare this output with otlp-transformer's for the same records.
import type { Attributes, HrTime, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope, Resource } from './tracer.js';

export interface EncodableSpan {
  name: string;
  kind: number;
  spanContext(): SpanContext;
  parentSpanContext?: SpanContext;
  startTime: HrTime;
  endTime: HrTime;
  attributes: Attributes;
  droppedAttributesCount: number;
  events: Array<{ name: string; time: HrTime; attributes?: Attributes; droppedAttributesCount?: number }>;
  droppedEventsCount: number;
  links: Array<{ context: SpanContext; attributes?: Attributes; droppedAttributesCount?: number }>;
  droppedLinksCount: number;
  status: { code: number; message?: string };
  resource: Resource;
  instrumentationScope: InstrumentationScope;
}

export interface LogRecordData {
  hrTime: HrTime;
  hrTimeObserved: HrTime;
  spanContext?: SpanContext;
  severityNumber: number;
  severityText: string;
  body: string;
  eventName: string;
  attributes: Attributes;
  droppedAttributesCount: number;
  resource: Resource;
  instrumentationScope: InstrumentationScope;
}

/** HrTime → nanoseconds since the epoch as a decimal string (beyond 2^53: no Number arithmetic). */
export function nanos(t: HrTime): string {
  return t[0] === 0 ? String(t[1]) : String(t[0]) + String(1e9 + t[1]).slice(1);
}

// The document is written as a string: JSON.stringify only escapes each string, no object tree is built
// (a span's encoding was the largest cost per request when it went through objects).
const str = JSON.stringify;

function anyValue(v: unknown): string {
  const t = typeof v;
  if (t === 'string') return `{"stringValue":${str(v)}}`;
  if (t === 'number') {
    if (!Number.isFinite(v as number)) return `{"stringValue":"${v}"}`; // NaN/Infinity are not JSON
    return Number.isInteger(v) ? `{"intValue":${v}}` : `{"doubleValue":${v}}`;
  }
  if (t === 'boolean') return `{"boolValue":${v}}`;
  if (Array.isArray(v)) return `{"arrayValue":{"values":[${v.map(anyValue).join(',')}]}}`;
  return '{}';
}

function keyValues(attributes: Attributes | undefined): string {
  let out = '';
  for (const key in attributes) {
    const v = attributes[key];
    if (v === undefined || v === null) continue;
    out += `${out ? ',' : ''}{"key":${str(key)},"value":${anyValue(v)}}`;
  }
  return `[${out}]`;
}

const SPAN_FLAGS_HAS_IS_REMOTE = 0x100;
const SPAN_FLAGS_IS_REMOTE = 0x200;
const flags = (sc: SpanContext, remote?: boolean) =>
  (sc.traceFlags & 0xff) | SPAN_FLAGS_HAS_IS_REMOTE | (remote ? SPAN_FLAGS_IS_REMOTE : 0);

/** Ids are hex by construction, but an app can hand in any span context: only hex passes unquoted. */
const HEX = /^[0-9a-f]*$/i;
const id = (value: string) => (HEX.test(value) ? `"${value}"` : str(String(value)));

function spanJson(s: EncodableSpan): string {
  const sc = s.spanContext();
  const parent = s.parentSpanContext;
  const state = sc.traceState && sc.traceState.serialize();
  let out = `{"traceId":${id(sc.traceId)},"spanId":${id(sc.spanId)}`;
  if (parent) out += `,"parentSpanId":${id(parent.spanId)}`;
  if (state) out += `,"traceState":${str(state)}`;
  out += `,"name":${str(s.name)},"kind":${s.kind + 1},"startTimeUnixNano":"${nanos(s.startTime)}","endTimeUnixNano":"${nanos(s.endTime)}","attributes":${keyValues(s.attributes)},"droppedAttributesCount":${s.droppedAttributesCount}`;
  out += `,"events":[${s.events
    .map(
      (e) =>
        `{"attributes":${keyValues(e.attributes)},"name":${str(e.name)},"timeUnixNano":"${nanos(e.time)}","droppedAttributesCount":${e.droppedAttributesCount || 0}}`,
    )
    .join(',')}],"droppedEventsCount":${s.droppedEventsCount}`;
  out += `,"status":{"code":${s.status.code}${s.status.message !== undefined ? `,"message":${str(s.status.message)}` : ''}}`;
  out += `,"links":[${s.links
    .map(
      (l) =>
        `{"attributes":${keyValues(l.attributes)},"spanId":${id(l.context.spanId)},"traceId":${id(l.context.traceId)},"droppedAttributesCount":${l.droppedAttributesCount || 0},"flags":${flags(l.context, l.context.isRemote)}}`,
    )
    .join(',')}],"droppedLinksCount":${s.droppedLinksCount},"flags":${flags(sc, parent && parent.isRemote)}}`;
  return out;
}

function logJson(r: LogRecordData): string {
  const sc = r.spanContext;
  let out = `{"timeUnixNano":"${nanos(r.hrTime)}","observedTimeUnixNano":"${nanos(r.hrTimeObserved)}","severityNumber":${r.severityNumber},"severityText":${str(r.severityText)},"body":${anyValue(r.body)},"eventName":${str(r.eventName)},"attributes":${keyValues(r.attributes)},"droppedAttributesCount":${r.droppedAttributesCount}`;
  if (sc) out += `,"flags":${sc.traceFlags},"traceId":${id(sc.traceId)},"spanId":${id(sc.spanId)}`;
  return `${out}}`;
}

/** Each resource's JSON is built once (a session's resource is shared by all its records). */
const resourceJson = new WeakMap<Resource, string>();
function encodeResource(resource: Resource): string {
  let json = resourceJson.get(resource);
  if (json === undefined) {
    json = `{"attributes":${keyValues(resource.attributes)},"droppedAttributesCount":0}`;
    resourceJson.set(resource, json);
  }
  return json;
}

/** Forget a resource's cached JSON (its attributes changed: user or device id). */
export function resourceChanged(resource: Resource): void {
  resourceJson.delete(resource);
}

function encode<T extends { resource: Resource; instrumentationScope: InstrumentationScope }>(
  records: T[],
  keys: [string, string, string],
  one: (r: T) => string,
): string {
  const [resourceKey, scopeKey, recordKey] = keys;
  const groups = new Map<Resource, Map<InstrumentationScope, string[]>>();
  for (const r of records) {
    let scopes = groups.get(r.resource);
    if (!scopes) {
      scopes = new Map();
      groups.set(r.resource, scopes);
    }
    let list = scopes.get(r.instrumentationScope);
    if (!list) {
      list = [];
      scopes.set(r.instrumentationScope, list);
    }
    list.push(one(r));
  }
  const resources: string[] = [];
  groups.forEach((scopes, resource) => {
    const parts: string[] = [];
    scopes.forEach((list, scope) => {
      parts.push(
        `{"scope":${JSON.stringify({ name: scope.name, version: scope.version })},"${recordKey}":[${list.join(',')}]}`,
      );
    });
    resources.push(`{"resource":${encodeResource(resource)},"${scopeKey}":[${parts.join(',')}]}`);
  });
  return `{"${resourceKey}":[${resources.join(',')}]}`;
}

export type Signal = 'traces' | 'logs';

export const CONTAINERS: Record<Signal, [string, string, string]> = {
  traces: ['resourceSpans', 'scopeSpans', 'spans'],
  logs: ['resourceLogs', 'scopeLogs', 'logRecords'],
};

export function encodeSpans(spans: EncodableSpan[]): string {
  return encode(spans, CONTAINERS.traces, spanJson);
}

export function encodeLogs(records: LogRecordData[]): string {
  return encode(records, CONTAINERS.logs, logJson);
}

/** Splits an OTLP/JSON payload into two with half the records each (undefined: can't split). */
export function splitPayload(
  signal: Signal,
  body: string,
): Array<{ body: string; records: number }> | undefined {
  const [resourceKey, scopeKey, recordKey] = CONTAINERS[signal];
  const leaves: Array<[any, any, unknown]> = [];
  try {
    for (const r of JSON.parse(body)[resourceKey])
      for (const s of r[scopeKey]) for (const x of s[recordKey]) leaves.push([r, s, x]);
  } catch {
    return undefined;
  }
  if (leaves.length < 2) return undefined;
  const half = leaves.length >> 1;
  return [leaves.slice(0, half), leaves.slice(half)].map((part) => {
    const resources = new Map<any, Map<any, unknown[]>>();
    for (const [r, s, x] of part) {
      let scopes = resources.get(r);
      if (!scopes) {
        scopes = new Map();
        resources.set(r, scopes);
      }
      let list = scopes.get(s);
      if (!list) {
        list = [];
        scopes.set(s, list);
      }
      list.push(x);
    }
    const doc = {
      [resourceKey]: [...resources].map(([r, scopes]) => ({
        ...r,
        [scopeKey]: [...scopes].map(([s, list]) => ({ ...s, [recordKey]: list })),
      })),
    };
    return { body: JSON.stringify(doc), records: part.length };
  });
}
