// OTLP messages → the rows the collector-contrib clickhouse exporter (v0.159.0) inserts. Attribute values
// are rendered like pdata's Value.AsString(): strings as is, ints in decimal, doubles as ES6 numbers
// (Go's float64AsString; Inf/NaN as "json: unsupported value: +Inf"), bools true/false, bytes base64,
// arrays and maps as JSON of their raw values (Go encoding/json, keys sorted, no HTML escaping).
import { ATTR_SERVICE_NAME } from '@mp-otel/contracts/names';
import { BadRequestError } from './proto.js';

type Msg = any;
export type Row = Record<string, unknown>;

const SPAN_KIND = ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'];
const STATUS_CODE = ['Unset', 'Ok', 'Error'];

export function longToString(v: unknown): string {
  if (v === undefined || v === null) return '0';
  if (typeof v === 'number') return Number.isFinite(v) ? BigInt(Math.trunc(v)).toString() : '0';
  if (typeof v === 'bigint') return v.toString();
  return String((v as { toString(): string }).toString());
}

const MAX_NANOS = 9_223_372_036_854_775_807n;

/** Unix nanoseconds → "seconds.nanoseconds" (what DateTime64(9) parses from JSONEachRow). */
export function nanosToDateTime64(v: unknown): string {
  let n = BigInt(longToString(v));
  // DateTime64(9) holds 1900-01-01 .. 2262-04-11 (int64 nanoseconds); clamp what pdata would wrap
  if (n < 0n) n = 0n;
  if (n > MAX_NANOS) n = MAX_NANOS;
  const s = n / 1_000_000_000n;
  const f = n % 1_000_000_000n;
  return `${s.toString().padStart(10, '0')}.${f.toString().padStart(9, '0')}`;
}

function toHexId(b: unknown, len: number, what: string): string {
  if (!b || (b as Uint8Array).length === 0) return '';
  const u = b as Uint8Array;
  if (u.length !== len)
    throw new BadRequestError(`invalid length for ${what}: ${u.length} bytes, want ${len}`);
  let allZero = true;
  for (const x of u) if (x !== 0) allZero = false;
  if (allZero) return '';
  return Buffer.from(u.buffer, u.byteOffset, u.length).toString('hex');
}

/** Go strconv/encoding-json ES6 float formatting (pdata float64AsString). */
export function formatDouble(f: number): string {
  if (Number.isNaN(f)) return 'json: unsupported value: NaN';
  if (f === Number.POSITIVE_INFINITY) return 'json: unsupported value: +Inf';
  if (f === Number.NEGATIVE_INFINITY) return 'json: unsupported value: -Inf';
  if (Object.is(f, -0)) return '-0';
  return String(f);
}

/** Go encoding/json string escaping with HTML escaping off. */
function goJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20) out += `\\u00${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s.slice(i, i + 2);
        i++;
      } else out += '\ufffd';
    } else if (c >= 0xdc00 && c <= 0xdfff) out += '\ufffd';
    else out += s.charAt(i);
  }
  return `${out}"`;
}

class JsonUnsupported extends Error {}

function rawJson(v: Msg): string {
  const kind = v?.value as string | undefined;
  switch (kind) {
    case 'stringValue':
      return goJsonString(v.stringValue);
    case 'boolValue':
      return v.boolValue ? 'true' : 'false';
    case 'intValue':
      return longToString(v.intValue);
    case 'doubleValue': {
      const f = Number(v.doubleValue);
      if (!Number.isFinite(f)) throw new JsonUnsupported();
      return Object.is(f, -0) ? '-0' : String(f);
    }
    case 'bytesValue':
      return goJsonString(Buffer.from(v.bytesValue).toString('base64'));
    case 'arrayValue':
      return `[${(v.arrayValue?.values ?? []).map(rawJson).join(',')}]`;
    case 'kvlistValue': {
      const m = new Map<string, Msg>();
      for (const kv of v.kvlistValue?.values ?? []) m.set(kv.key, kv.value);
      const keys = [...m.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${keys.map((k) => `${goJsonString(k)}:${rawJson(m.get(k))}`).join(',')}}`;
    }
    default:
      return 'null';
  }
}

/** pdata Value.AsString(). */
export function anyValueToString(v: Msg): string {
  const kind = v?.value as string | undefined;
  switch (kind) {
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return v.boolValue ? 'true' : 'false';
    case 'intValue':
      return longToString(v.intValue);
    case 'doubleValue':
      return formatDouble(Number(v.doubleValue));
    case 'bytesValue':
      return Buffer.from(v.bytesValue).toString('base64');
    case 'arrayValue':
    case 'kvlistValue':
      try {
        return rawJson(v);
      } catch (err) {
        if (err instanceof JsonUnsupported) return '';
        throw err;
      }
    default:
      return '';
  }
}

export function attrsToMap(attrs: Msg[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of attrs ?? []) out[kv.key] = anyValueToString(kv.value);
  return out;
}

function serviceName(resource: Msg): string {
  for (const kv of resource?.attributes ?? [])
    if (kv.key === ATTR_SERVICE_NAME) return anyValueToString(kv.value);
  return '';
}

/**
 * Optional per-request enrichment: the embedded equivalent of the collector's `attributes/client-ip`
 * processor (action insert, from_context metadata.x-real-ip), applied to span and log-record attributes.
 */
export interface Enrichment {
  /** inserted into every span's / log record's attributes when not already present */
  attributes?: Record<string, string>;
}

function itemAttrs(attrs: Msg[] | undefined, enrich?: Enrichment): Record<string, string> {
  const m = attrsToMap(attrs);
  if (enrich?.attributes) {
    for (const [k, v] of Object.entries(enrich.attributes)) if (!(k in m)) m[k] = v;
  }
  return m;
}

export function traceRows(req: Msg, enrich?: Enrichment): Row[] {
  const rows: Row[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const resAttr = attrsToMap(rs.resource?.attributes);
    const svc = serviceName(rs.resource);
    for (const ss of rs.scopeSpans ?? []) {
      const scopeName = ss.scope?.name ?? '';
      const scopeVersion = ss.scope?.version ?? '';
      for (const s of ss.spans ?? []) {
        const start = BigInt(longToString(s.startTimeUnixNano));
        const end = BigInt(longToString(s.endTimeUnixNano));
        const dur = end > start ? end - start : 0n;
        const events = s.events ?? [];
        const links = s.links ?? [];
        rows.push({
          Timestamp: nanosToDateTime64(s.startTimeUnixNano),
          TraceId: toHexId(s.traceId, 16, 'TraceId'),
          SpanId: toHexId(s.spanId, 8, 'SpanId'),
          ParentSpanId: toHexId(s.parentSpanId, 8, 'ParentSpanId'),
          TraceState: s.traceState ?? '',
          SpanName: s.name ?? '',
          SpanKind: SPAN_KIND[s.kind ?? 0] ?? '',
          ServiceName: svc,
          ResourceAttributes: resAttr,
          ScopeName: scopeName,
          ScopeVersion: scopeVersion,
          SpanAttributes: itemAttrs(s.attributes, enrich),
          Duration: dur.toString(),
          StatusCode: STATUS_CODE[s.status?.code ?? 0] ?? '',
          StatusMessage: s.status?.message ?? '',
          'Events.Timestamp': events.map((e: Msg) => nanosToDateTime64(e.timeUnixNano)),
          'Events.Name': events.map((e: Msg) => e.name ?? ''),
          'Events.Attributes': events.map((e: Msg) => attrsToMap(e.attributes)),
          'Links.TraceId': links.map((l: Msg) => toHexId(l.traceId, 16, 'Links.TraceId')),
          'Links.SpanId': links.map((l: Msg) => toHexId(l.spanId, 8, 'Links.SpanId')),
          'Links.TraceState': links.map((l: Msg) => l.traceState ?? ''),
          'Links.Attributes': links.map((l: Msg) => attrsToMap(l.attributes)),
        });
      }
    }
  }
  return rows;
}

export function logRows(req: Msg, enrich?: Enrichment): Row[] {
  const rows: Row[] = [];
  for (const rl of req.resourceLogs ?? []) {
    const resAttr = attrsToMap(rl.resource?.attributes);
    const svc = serviceName(rl.resource);
    for (const sl of rl.scopeLogs ?? []) {
      const scopeAttr = attrsToMap(sl.scope?.attributes);
      for (const r of sl.logRecords ?? []) {
        const ts = longToString(r.timeUnixNano) !== '0' ? r.timeUnixNano : r.observedTimeUnixNano;
        rows.push({
          Timestamp: nanosToDateTime64(ts),
          TraceId: toHexId(r.traceId, 16, 'TraceId'),
          SpanId: toHexId(r.spanId, 8, 'SpanId'),
          TraceFlags: (r.flags ?? 0) & 0xff,
          SeverityText: r.severityText ?? '',
          SeverityNumber: (r.severityNumber ?? 0) & 0xff,
          ServiceName: svc,
          Body: anyValueToString(r.body),
          ResourceSchemaUrl: rl.schemaUrl ?? '',
          ResourceAttributes: resAttr,
          ScopeSchemaUrl: sl.schemaUrl ?? '',
          ScopeName: sl.scope?.name ?? '',
          ScopeVersion: sl.scope?.version ?? '',
          ScopeAttributes: scopeAttr,
          LogAttributes: itemAttrs(r.attributes, enrich),
          EventName: r.eventName ?? '',
        });
      }
    }
  }
  return rows;
}

export type MetricTable =
  | 'otel_metrics_gauge'
  | 'otel_metrics_sum'
  | 'otel_metrics_histogram'
  | 'otel_metrics_exp_histogram'
  | 'otel_metrics_summary';

function numberValue(dp: Msg): number {
  if (dp.value === 'asInt') return Number(longToString(dp.asInt));
  if (dp.value === 'asDouble') return Number(dp.asDouble);
  return 0;
}

function exemplarCols(dp: Msg): Row {
  const ex = dp.exemplars ?? [];
  return {
    'Exemplars.FilteredAttributes': ex.map((e: Msg) => attrsToMap(e.filteredAttributes)),
    'Exemplars.TimeUnix': ex.map((e: Msg) => nanosToDateTime64(e.timeUnixNano)),
    'Exemplars.Value': ex.map((e: Msg) => numberValue(e)),
    'Exemplars.SpanId': ex.map((e: Msg) => toHexId(e.spanId, 8, 'Exemplars.SpanId')),
    'Exemplars.TraceId': ex.map((e: Msg) => toHexId(e.traceId, 16, 'Exemplars.TraceId')),
  };
}

const jsonNum = (f: number): number | string =>
  Number.isFinite(f) ? f : Number.isNaN(f) ? 'nan' : f > 0 ? 'inf' : '-inf';

export function metricRows(req: Msg): Record<MetricTable, Row[]> {
  const out: Record<MetricTable, Row[]> = {
    otel_metrics_gauge: [],
    otel_metrics_sum: [],
    otel_metrics_histogram: [],
    otel_metrics_exp_histogram: [],
    otel_metrics_summary: [],
  };
  for (const rm of req.resourceMetrics ?? []) {
    const resAttr = attrsToMap(rm.resource?.attributes);
    const svc = serviceName(rm.resource);
    for (const sm of rm.scopeMetrics ?? []) {
      const scopeAttr = attrsToMap(sm.scope?.attributes);
      for (const m of sm.metrics ?? []) {
        const base = (dp: Msg): Row => ({
          ResourceAttributes: resAttr,
          ResourceSchemaUrl: rm.schemaUrl ?? '',
          ScopeName: sm.scope?.name ?? '',
          ScopeVersion: sm.scope?.version ?? '',
          ScopeAttributes: scopeAttr,
          ScopeDroppedAttrCount: sm.scope?.droppedAttributesCount ?? 0,
          ScopeSchemaUrl: sm.schemaUrl ?? '',
          ServiceName: svc,
          MetricName: m.name ?? '',
          MetricDescription: m.description ?? '',
          MetricUnit: m.unit ?? '',
          Attributes: attrsToMap(dp.attributes),
          StartTimeUnix: nanosToDateTime64(dp.startTimeUnixNano),
          TimeUnix: nanosToDateTime64(dp.timeUnixNano),
        });
        switch (m.data) {
          case 'gauge':
            for (const dp of m.gauge.dataPoints ?? [])
              out.otel_metrics_gauge.push({
                ...base(dp),
                Value: jsonNum(numberValue(dp)),
                Flags: dp.flags ?? 0,
                ...exemplarCols(dp),
              });
            break;
          case 'sum':
            for (const dp of m.sum.dataPoints ?? [])
              out.otel_metrics_sum.push({
                ...base(dp),
                Value: jsonNum(numberValue(dp)),
                Flags: dp.flags ?? 0,
                ...exemplarCols(dp),
                AggregationTemporality: m.sum.aggregationTemporality ?? 0,
                IsMonotonic: Boolean(m.sum.isMonotonic),
              });
            break;
          case 'histogram':
            for (const dp of m.histogram.dataPoints ?? [])
              out.otel_metrics_histogram.push({
                ...base(dp),
                Count: longToString(dp.count),
                Sum: jsonNum(Number(dp.sum ?? 0)),
                BucketCounts: (dp.bucketCounts ?? []).map(longToString),
                ExplicitBounds: (dp.explicitBounds ?? []).map((x: number) => jsonNum(Number(x))),
                ...exemplarCols(dp),
                Flags: dp.flags ?? 0,
                Min: jsonNum(Number(dp.min ?? 0)),
                Max: jsonNum(Number(dp.max ?? 0)),
                AggregationTemporality: m.histogram.aggregationTemporality ?? 0,
              });
            break;
          case 'exponentialHistogram':
            for (const dp of m.exponentialHistogram.dataPoints ?? [])
              out.otel_metrics_exp_histogram.push({
                ...base(dp),
                Count: longToString(dp.count),
                Sum: jsonNum(Number(dp.sum ?? 0)),
                Scale: dp.scale ?? 0,
                ZeroCount: longToString(dp.zeroCount),
                PositiveOffset: dp.positive?.offset ?? 0,
                PositiveBucketCounts: (dp.positive?.bucketCounts ?? []).map(longToString),
                NegativeOffset: dp.negative?.offset ?? 0,
                NegativeBucketCounts: (dp.negative?.bucketCounts ?? []).map(longToString),
                ...exemplarCols(dp),
                Flags: dp.flags ?? 0,
                Min: jsonNum(Number(dp.min ?? 0)),
                Max: jsonNum(Number(dp.max ?? 0)),
                AggregationTemporality: m.exponentialHistogram.aggregationTemporality ?? 0,
              });
            break;
          case 'summary':
            for (const dp of m.summary.dataPoints ?? [])
              out.otel_metrics_summary.push({
                ...base(dp),
                Count: longToString(dp.count),
                Sum: jsonNum(Number(dp.sum ?? 0)),
                'ValueAtQuantiles.Quantile': (dp.quantileValues ?? []).map((q: Msg) =>
                  jsonNum(Number(q.quantile ?? 0)),
                ),
                'ValueAtQuantiles.Value': (dp.quantileValues ?? []).map((q: Msg) =>
                  jsonNum(Number(q.value ?? 0)),
                ),
                Flags: dp.flags ?? 0,
              });
            break;
          default:
            break;
        }
      }
    }
  }
  return out;
}
