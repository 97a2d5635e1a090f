// OTLP messages → the rows the collector-contrib clickhouse exporter (v0.159.0) inserts. Attribute values
// are rendered like pdata's Value.AsString(): strings as is, ints in decimal, doubles as ES6 numbers
// (Go's float64AsString; Inf/NaN as "json: unsupported value: +Inf"), bools true/false, bytes base64,
// arrays and maps as JSON of their raw values (Go encoding/json, keys sorted, no HTML escaping).
//
// Attribute caps are the production collector's (see limits.ts); items dated outside the accepted window
// (retention, clock skew) are not written but counted, for the OTLP partial-success answer.
import { ATTR_SERVICE_NAME } from '@mp-otel/contracts/names';
import { ATTRIBUTE_CAPS, EXTRA_CAPS, LOG_PRIORITY_KEYS, SPAN_PRIORITY_KEYS, truncateUtf8 } from './limits.js';
import { BadRequestError, RequestTooLargeError } from './proto.js';

type Msg = any;
export type Row = Record<string, unknown>;

export const SPAN_KIND = ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'];
export const STATUS_CODE = ['Unset', 'Ok', 'Error'];

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
class DepthError extends Error {}

function rawJson(v: Msg, depth = 0): string {
  if (depth > EXTRA_CAPS.anyValueDepth) throw new DepthError();
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
      return `[${(v.arrayValue?.values ?? []).map((x: Msg) => rawJson(x, depth + 1)).join(',')}]`;
    case 'kvlistValue': {
      const m = new Map<string, Msg>();
      for (const kv of v.kvlistValue?.values ?? []) m.set(kv.key, kv.value);
      const keys = [...m.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${keys.map((k) => `${goJsonString(k)}:${rawJson(m.get(k), depth + 1)}`).join(',')}}`;
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
        if (err instanceof DepthError)
          throw new BadRequestError(
            `an attribute value is nested deeper than ${EXTRA_CAPS.anyValueDepth} levels (arrays/maps inside arrays/maps): flatten it`,
          );
        throw err;
      }
    default:
      return '';
  }
}

/** How a context's attributes are capped: `limit(attrs, max, priority)` then `truncate_all(attrs, valueBytes)`. */
export interface Caps {
  max: number;
  valueBytes: number;
  priority?: ReadonlySet<string>;
}

export const RESOURCE_CAPS: Caps = {
  max: EXTRA_CAPS.otherAttributes,
  valueBytes: ATTRIBUTE_CAPS.resourceValueBytes,
  priority: new Set([ATTR_SERVICE_NAME]),
};
export const SPAN_CAPS: Caps = {
  max: ATTRIBUTE_CAPS.spanAttributes,
  valueBytes: ATTRIBUTE_CAPS.spanValueBytes,
  priority: new Set(SPAN_PRIORITY_KEYS),
};
export const EVENT_CAPS: Caps = {
  max: EXTRA_CAPS.otherAttributes,
  valueBytes: ATTRIBUTE_CAPS.spanEventValueBytes,
};
export const LOG_CAPS: Caps = {
  max: ATTRIBUTE_CAPS.logAttributes,
  valueBytes: ATTRIBUTE_CAPS.logValueBytes,
  priority: new Set(LOG_PRIORITY_KEYS),
};
export const OTHER_CAPS: Caps = { max: EXTRA_CAPS.otherAttributes, valueBytes: EXTRA_CAPS.otherValueBytes };

/**
 * Attributes → the exporter's Map(String, String), capped like the collector's transform/normalize:
 * OTTL limit() keeps the priority keys plus the first others in order up to `max`; truncate_all() cuts
 * string values (only strings) to `valueBytes` (here on a character boundary).
 */
/**
 * OTTL limit(attrs, max, priority): the priority keys present, plus the first others in order until `max`
 * are kept (the list itself when it is within `max`). The one implementation every decoder path uses.
 */
export function limitAttributes<T extends { key?: string }>(list: T[], caps: Caps): T[] {
  if (list.length <= caps.max) return list;
  const prio = caps.priority;
  let count = 0;
  if (prio) {
    const present = new Set<string>();
    for (const kv of list) if (prio.has(kv.key ?? '')) present.add(kv.key ?? '');
    count = present.size;
  }
  const kept: T[] = [];
  for (const kv of list) {
    if (prio?.has(kv.key ?? '')) kept.push(kv);
    else if (count < caps.max) {
      count++;
      kept.push(kv);
    }
  }
  return kept;
}

export function attrsToMap(attrs: Msg[] | undefined, caps: Caps = OTHER_CAPS): Record<string, string> {
  // no prototype: a "__proto__" key is an attribute like any other
  const out: Record<string, string> = Object.create(null);
  for (const kv of limitAttributes(attrs ?? [], caps)) {
    const v = kv.value;
    out[kv.key ?? ''] =
      v?.value === 'stringValue' ? truncateUtf8(v.stringValue, caps.valueBytes) : anyValueToString(v);
  }
  return out;
}

/** Per-request conversion state: the accepted time window, what was rejected and the row-bytes budget. */
export interface RowContext {
  enrich?: Enrichment;
  /** items dated outside [minNs, maxNs] (unix ns, by start time) are not written but counted */
  window?: { minNs: bigint; maxNs: bigint };
  /** estimated bytes of the rows so far (keys + values of every map, per row) */
  bytes: number;
  /** budget for `bytes`: exceeding it throws RequestTooLargeError */
  maxBytes: number;
  rejected: number;
  /** earliest / latest rejected timestamp (ns) for the message */
  rejectedMin?: bigint;
  rejectedMax?: bigint;
}

export function rowContext(o: Partial<RowContext> = {}): RowContext {
  return { bytes: 0, maxBytes: Number.POSITIVE_INFINITY, rejected: 0, ...o };
}

export const mapBytes = (m: Record<string, string>): number => {
  let n = 2;
  for (const k in m) n += k.length + (m[k] as string).length + 6;
  return n;
};

export function charge(ctx: RowContext, bytes: number, what: string): void {
  ctx.bytes += bytes;
  if (ctx.bytes > ctx.maxBytes)
    throw new RequestTooLargeError(
      `this request would become more than ${Math.round(ctx.maxBytes / 1048576)} MiB of ${what} rows ` +
        '(resource attributes are repeated on every row): split it into smaller requests or send fewer/shorter resource attributes',
    );
}

/** false (and counted) when a timestamp is outside the accepted window. */
export function inWindow(ctx: RowContext, ns: bigint): boolean {
  const w = ctx.window;
  if (!w || (ns >= w.minNs && ns <= w.maxNs)) return true;
  ctx.rejected++;
  if (ctx.rejectedMin === undefined || ns < ctx.rejectedMin) ctx.rejectedMin = ns;
  if (ctx.rejectedMax === undefined || ns > ctx.rejectedMax) ctx.rejectedMax = ns;
  return false;
}

const toBig = (v: unknown): bigint => BigInt(longToString(v));

function serviceName(resAttr: Record<string, string>): string {
  return resAttr[ATTR_SERVICE_NAME] ?? '';
}

/**
 * Optional per-request enrichment: the embedded equivalent of the collector's `attributes/client-ip`
 * processor (action insert, from_context metadata.x-real-ip), applied to span and log-record attributes.
 */
export interface Enrichment {
  /** inserted into every span's / log record's attributes when not already present */
  attributes?: Record<string, string>;
}

function itemAttrs(attrs: Msg[] | undefined, caps: Caps, enrich?: Enrichment): Record<string, string> {
  const m = attrsToMap(attrs, caps);
  if (enrich?.attributes) {
    for (const [k, v] of Object.entries(enrich.attributes)) if (!(k in m)) m[k] = v;
  }
  return m;
}

export function traceRows(req: Msg, ctx: RowContext = rowContext()): Row[] {
  const rows: Row[] = [];
  const enrich = ctx.enrich;
  for (const rs of req.resourceSpans ?? []) {
    const resAttr = attrsToMap(rs.resource?.attributes, RESOURCE_CAPS);
    const resBytes = mapBytes(resAttr);
    const svc = serviceName(resAttr);
    for (const ss of rs.scopeSpans ?? []) {
      const scopeName = ss.scope?.name ?? '';
      const scopeVersion = ss.scope?.version ?? '';
      for (const s of ss.spans ?? []) {
        const start = toBig(s.startTimeUnixNano);
        if (!inWindow(ctx, start)) continue;
        const end = toBig(s.endTimeUnixNano);
        const dur = end > start ? end - start : 0n;
        const events = s.events ?? [];
        const links = s.links ?? [];
        const spanAttr = itemAttrs(s.attributes, SPAN_CAPS, enrich);
        const eventAttrs = events.map((e: Msg) => attrsToMap(e.attributes, EVENT_CAPS));
        const linkAttrs = links.map((l: Msg) => attrsToMap(l.attributes, OTHER_CAPS));
        let bytes =
          400 + resBytes + mapBytes(spanAttr) + (s.name?.length ?? 0) + (s.status?.message?.length ?? 0);
        for (const m of eventAttrs) bytes += 60 + mapBytes(m);
        for (const m of linkAttrs) bytes += 80 + mapBytes(m);
        charge(ctx, bytes, 'span');
        rows.push({
          Timestamp: nanosToDateTime64(start),
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
          SpanAttributes: spanAttr,
          Duration: dur.toString(),
          StatusCode: STATUS_CODE[s.status?.code ?? 0] ?? '',
          StatusMessage: s.status?.message ?? '',
          'Events.Timestamp': events.map((e: Msg) => nanosToDateTime64(e.timeUnixNano)),
          'Events.Name': events.map((e: Msg) => e.name ?? ''),
          'Events.Attributes': eventAttrs,
          'Links.TraceId': links.map((l: Msg) => toHexId(l.traceId, 16, 'Links.TraceId')),
          'Links.SpanId': links.map((l: Msg) => toHexId(l.spanId, 8, 'Links.SpanId')),
          'Links.TraceState': links.map((l: Msg) => l.traceState ?? ''),
          'Links.Attributes': linkAttrs,
        });
      }
    }
  }
  return rows;
}

export function logRows(req: Msg, ctx: RowContext = rowContext()): Row[] {
  const rows: Row[] = [];
  const enrich = ctx.enrich;
  for (const rl of req.resourceLogs ?? []) {
    const resAttr = attrsToMap(rl.resource?.attributes, RESOURCE_CAPS);
    const resBytes = mapBytes(resAttr);
    const svc = serviceName(resAttr);
    for (const sl of rl.scopeLogs ?? []) {
      const scopeAttr = attrsToMap(sl.scope?.attributes, OTHER_CAPS);
      const scopeBytes = mapBytes(scopeAttr);
      for (const r of sl.logRecords ?? []) {
        const time = toBig(r.timeUnixNano);
        const ts = time !== 0n ? time : toBig(r.observedTimeUnixNano);
        if (!inWindow(ctx, ts)) continue;
        const logAttr = itemAttrs(r.attributes, LOG_CAPS, enrich);
        const body =
          r.body?.value === 'stringValue'
            ? truncateUtf8(r.body.stringValue, ATTRIBUTE_CAPS.logBodyBytes)
            : anyValueToString(r.body);
        charge(ctx, 300 + resBytes + scopeBytes + mapBytes(logAttr) + body.length, 'log');
        rows.push({
          Timestamp: nanosToDateTime64(ts),
          TraceId: toHexId(r.traceId, 16, 'TraceId'),
          SpanId: toHexId(r.spanId, 8, 'SpanId'),
          TraceFlags: (r.flags ?? 0) & 0xff,
          SeverityText: r.severityText ?? '',
          SeverityNumber: (r.severityNumber ?? 0) & 0xff,
          ServiceName: svc,
          Body: body,
          ResourceSchemaUrl: rl.schemaUrl ?? '',
          ResourceAttributes: resAttr,
          ScopeSchemaUrl: sl.schemaUrl ?? '',
          ScopeName: sl.scope?.name ?? '',
          ScopeVersion: sl.scope?.version ?? '',
          ScopeAttributes: scopeAttr,
          LogAttributes: logAttr,
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
    'Exemplars.FilteredAttributes': ex.map((e: Msg) => attrsToMap(e.filteredAttributes, OTHER_CAPS)),
    'Exemplars.TimeUnix': ex.map((e: Msg) => nanosToDateTime64(e.timeUnixNano)),
    'Exemplars.Value': ex.map((e: Msg) => numberValue(e)),
    'Exemplars.SpanId': ex.map((e: Msg) => toHexId(e.spanId, 8, 'Exemplars.SpanId')),
    'Exemplars.TraceId': ex.map((e: Msg) => toHexId(e.traceId, 16, 'Exemplars.TraceId')),
  };
}

const jsonNum = (f: number): number | string =>
  Number.isFinite(f) ? f : Number.isNaN(f) ? 'nan' : f > 0 ? 'inf' : '-inf';

export function metricRows(req: Msg, ctx: RowContext = rowContext()): Record<MetricTable, Row[]> {
  const out: Record<MetricTable, Row[]> = {
    otel_metrics_gauge: [],
    otel_metrics_sum: [],
    otel_metrics_histogram: [],
    otel_metrics_exp_histogram: [],
    otel_metrics_summary: [],
  };
  for (const rm of req.resourceMetrics ?? []) {
    const resAttr = attrsToMap(rm.resource?.attributes, RESOURCE_CAPS);
    const resBytes = mapBytes(resAttr);
    const svc = serviceName(resAttr);
    for (const sm of rm.scopeMetrics ?? []) {
      const scopeAttr = attrsToMap(sm.scope?.attributes, OTHER_CAPS);
      const scopeBytes = mapBytes(scopeAttr);
      for (const m of sm.metrics ?? []) {
        const keep = (dp: Msg): boolean => inWindow(ctx, toBig(dp.timeUnixNano));
        const base = (dp: Msg): Row => {
          const attributes = attrsToMap(dp.attributes, OTHER_CAPS);
          let bytes = 400 + resBytes + scopeBytes + mapBytes(attributes);
          bytes += 16 * ((dp.bucketCounts?.length ?? 0) + (dp.explicitBounds?.length ?? 0));
          bytes += 16 * ((dp.positive?.bucketCounts?.length ?? 0) + (dp.negative?.bucketCounts?.length ?? 0));
          bytes += 32 * (dp.quantileValues?.length ?? 0) + 100 * (dp.exemplars?.length ?? 0);
          charge(ctx, bytes, 'metric');
          return {
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
            Attributes: attributes,
            StartTimeUnix: nanosToDateTime64(dp.startTimeUnixNano),
            TimeUnix: nanosToDateTime64(dp.timeUnixNano),
          };
        };
        switch (m.data) {
          case 'gauge':
            for (const dp of m.gauge.dataPoints ?? [])
              if (keep(dp))
                out.otel_metrics_gauge.push({
                  ...base(dp),
                  Value: jsonNum(numberValue(dp)),
                  Flags: dp.flags ?? 0,
                  ...exemplarCols(dp),
                });
            break;
          case 'sum':
            for (const dp of m.sum.dataPoints ?? [])
              if (keep(dp))
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
              if (keep(dp))
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
              if (keep(dp))
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
              if (keep(dp))
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
