// The console's own queries: fixed SQL, every value from the URL a ClickHouse query parameter ({name:Type}),
// never text in the statement. Span derivations (layer, route, status, client IP → geo) are the cube's own
// (@mp-otel/contracts spanSql), so a search means what the dashboards mean.
import { spanSql } from '@mp-otel/contracts';
import { HttpError, int, parseRange, text } from './http-error.js';
import type { StoreReader } from './store-client.js';

const S = spanSql();
const ms = (col: string) => `toUnixTimestamp64Milli(${col})`;
const RANGE =
  'Timestamp >= fromUnixTimestamp64Milli({from:Int64}) AND Timestamp <= fromUnixTimestamp64Milli({to:Int64})';
const EXCEPTION = `(EventName = 'exception' OR LogAttributes['event.name'] = 'exception' OR LogAttributes['exception.type'] != '')`;
const TRACE_ID = /^[0-9a-f]{32}$/;

/** Trace-search filters: URL parameter → the span expression it is compared with (as a String). */
export const TRACE_FILTERS: Record<string, string> = {
  service: 'ServiceName',
  route: S.route,
  status: `toString(${S.status})`,
  error_type: S.errorType,
  app_error_code: S.appErrorCode,
  layer: S.layer,
  os: `ResourceAttributes['os.name']`,
  base_library: `ResourceAttributes['mp.base_library.version']`,
  host_version: `ResourceAttributes['mp.host.version']`,
  app_version: `ResourceAttributes['service.version']`,
  platform: `ResourceAttributes['mp.platform']`,
  fingerprint: `ResourceAttributes['mp.fingerprint']`,
  network: `SpanAttributes['network.connection.type']`,
  carrier: S.carrier,
  province: S.province,
};

export class Explorer {
  constructor(private readonly reader: StoreReader) {}

  /** Traces whose spans match every given filter, newest first. */
  async traces(q: URLSearchParams, now = Date.now()) {
    const { from, to } = parseRange(q, now, 'now-1h');
    const traceId = text(q, 'trace_id', 64).toLowerCase();
    if (traceId && !TRACE_ID.test(traceId)) throw new HttpError(400, 'trace_id: 32 hexadecimal characters');
    const params: Record<string, string | number> = {
      from,
      to,
      trace_id: traceId,
      min_ns: int(q, 'min_ms', 0, 86_400_000) * 1e6,
      max_ns: int(q, 'max_ms', 0, 86_400_000) * 1e6,
      limit: int(q, 'limit', 100, 500),
    };
    const where: string[] = [];
    for (const [name, expr] of Object.entries(TRACE_FILTERS)) {
      const v = text(q, name);
      if (!v) continue;
      params[`f_${name}`] = v;
      where.push(`${expr} = {f_${name}:String}`);
    }
    const sql = `SELECT TraceId AS trace_id, ${ms('min(Timestamp)')} AS start_ms, max(Duration) / 1e6 AS duration_ms,
  groupUniqArray(ServiceName) AS services, anyIf(route, route != '') AS route, max(status) AS status,
  anyIf(error_type, error_type != '') AS error_type, count() AS matched_spans,
  any(ResourceAttributes['os.name']) AS os, any(ResourceAttributes['mp.base_library.version']) AS base_library,
  any(ResourceAttributes['mp.fingerprint']) AS fingerprint
FROM (SELECT TraceId, Timestamp, Duration, ServiceName, ResourceAttributes, ${S.route} AS route, ${S.status} AS status, ${S.errorType} AS error_type
  FROM otel_traces
  WHERE (({trace_id:String} != '' AND TraceId = {trace_id:String}) OR ({trace_id:String} = '' AND ${RANGE}))
    AND Duration >= {min_ns:UInt64} AND ({max_ns:UInt64} = 0 OR Duration <= {max_ns:UInt64})
    ${where.map((w) => `AND ${w}`).join('\n    ')})
GROUP BY TraceId ORDER BY start_ms DESC LIMIT {limit:UInt32}`;
    const r = await this.reader.select(sql, params);
    // the whole of each trace found: every service it crossed, its span count and end-to-end duration
    const ids = r.rows.map((x) => String(x.trace_id));
    if (ids.length) {
      const whole = await this.reader.select(
        `SELECT TraceId AS trace_id, groupUniqArray(ServiceName) AS services, count() AS spans,
  (max(toUnixTimestamp64Nano(Timestamp) + Duration) - min(toUnixTimestamp64Nano(Timestamp))) / 1e6 AS trace_ms
FROM otel_traces
WHERE has({ids:Array(String)}, TraceId)
  AND Timestamp >= (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE has({ids:Array(String)}, TraceId)) - INTERVAL 5 MINUTE
  AND Timestamp <= (SELECT max(End) FROM otel_traces_trace_id_ts WHERE has({ids:Array(String)}, TraceId)) + INTERVAL 5 MINUTE
GROUP BY TraceId`,
        { ids },
      );
      const byId = new Map(whole.rows.map((x) => [String(x.trace_id), x]));
      for (const row of r.rows) Object.assign(row, byId.get(String(row.trace_id)) ?? {});
    }
    return { from, to, traces: r.rows, ms: r.ms };
  }

  /** One trace: its spans (attributes, resource, events) and the log records linked to it. */
  async trace(id: string) {
    const traceId = id.toLowerCase();
    if (!TRACE_ID.test(traceId)) throw new HttpError(400, 'a trace id is 32 hexadecimal characters');
    const spans = await this.reader.select(
      `SELECT SpanId AS span_id, ParentSpanId AS parent_span_id, SpanName AS name, SpanKind AS kind, ServiceName AS service,
  ${S.layer} AS layer, toString(toUnixTimestamp64Nano(Timestamp)) AS start_ns, Duration AS duration_ns,
  StatusCode AS status_code, StatusMessage AS status_message, SpanAttributes AS attributes, ResourceAttributes AS resource,
  arrayMap((t, n, a) -> (toString(toUnixTimestamp64Nano(t)), n, a), Events.Timestamp, Events.Name, Events.Attributes) AS events
FROM otel_traces
WHERE TraceId = {id:String}
  AND Timestamp >= (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId = {id:String}) - INTERVAL 5 MINUTE
  AND Timestamp <= (SELECT max(End) FROM otel_traces_trace_id_ts WHERE TraceId = {id:String}) + INTERVAL 5 MINUTE
ORDER BY Timestamp LIMIT 5000`,
      { id: traceId },
    );
    const logs = await this.reader.select(
      `SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS time_ns, SpanId AS span_id, ServiceName AS service, SeverityText AS level,
  Body AS body, LogAttributes AS attributes, ResourceAttributes AS resource
FROM otel_logs WHERE TraceId = {id:String} ORDER BY Timestamp LIMIT 1000`,
      { id: traceId },
    );
    if (spans.rows.length === 0 && logs.rows.length === 0)
      throw new HttpError(404, `no trace ${traceId} in the store`);
    return { trace_id: traceId, spans: spans.rows, logs: logs.rows };
  }

  /** Log records: text search in the body, service, severity, trace. */
  async logs(q: URLSearchParams, now = Date.now()) {
    const { from, to } = parseRange(q, now, 'now-1h');
    const r = await this.reader.select(
      `SELECT ${ms('Timestamp')} AS time_ms, ServiceName AS service, SeverityText AS level, Body AS body, TraceId AS trace_id, SpanId AS span_id,
  LogAttributes['exception.type'] AS exception_type, ResourceAttributes['os.name'] AS os
FROM otel_logs
WHERE ${RANGE}
  AND ({q:String} = '' OR positionCaseInsensitiveUTF8(Body, {q:String}) > 0 OR positionCaseInsensitiveUTF8(LogAttributes['exception.message'], {q:String}) > 0)
  AND ({service:String} = '' OR ServiceName = {service:String})
  AND ({level:String} = '' OR SeverityText = {level:String})
  AND ({trace_id:String} = '' OR TraceId = {trace_id:String})
ORDER BY Timestamp DESC LIMIT {limit:UInt32}`,
      {
        from,
        to,
        q: text(q, 'q'),
        service: text(q, 'service'),
        level: text(q, 'level'),
        trace_id: text(q, 'trace_id', 64).toLowerCase(),
        limit: int(q, 'limit', 200, 1000),
      },
    );
    return { from, to, logs: r.rows };
  }

  /** Exceptions grouped by type and message: counts (mp.error.count), first/last seen, fingerprints, a trace. */
  async exceptions(q: URLSearchParams, now = Date.now()) {
    const { from, to } = parseRange(q, now, 'now-6h');
    const r = await this.reader.select(
      `SELECT LogAttributes['exception.type'] AS type, LogAttributes['exception.message'] AS message,
  sum(if(toFloat64OrZero(LogAttributes['mp.error.count']) > 0, toFloat64OrZero(LogAttributes['mp.error.count']), 1.0)) AS count,
  count() AS records, ${ms('min(Timestamp)')} AS first_seen_ms, ${ms('max(Timestamp)')} AS last_seen_ms,
  uniqExact(ResourceAttributes['mp.fingerprint']) AS fingerprints,
  arraySlice(groupUniqArray(concat(ResourceAttributes['os.name'], ' ', ResourceAttributes['mp.base_library.version'])), 1, 5) AS segments,
  groupUniqArray(5)(ServiceName) AS services, argMaxIf(TraceId, Timestamp, TraceId != '') AS trace_id
FROM otel_logs
WHERE ${RANGE} AND ${EXCEPTION}
  AND ({q:String} = '' OR positionCaseInsensitiveUTF8(LogAttributes['exception.message'], {q:String}) > 0 OR positionCaseInsensitiveUTF8(LogAttributes['exception.type'], {q:String}) > 0)
GROUP BY type, message ORDER BY count DESC LIMIT 200`,
      { from, to, q: text(q, 'q') },
    );
    return { from, to, groups: r.rows };
  }

  /**
   * Exemplars for time-series panels: per interval, the client request that best explains it (an error
   * first, then the slowest), with its trace id.
   */
  async exemplars(q: URLSearchParams, now = Date.now()) {
    const { from, to } = parseRange(q, now, 'now-6h');
    const step = Math.max(60, Math.ceil((to - from) / 1000 / 60));
    const routes = q.getAll('route').filter((r) => r && r !== '$__all');
    if (routes.length > 64) throw new HttpError(400, 'route: more than 64 values');
    const r = await this.reader.select(
      `SELECT toUnixTimestamp(t) * 1000 AS time_ms, argMax(TraceId, (err, Duration)) AS trace_id, max(err) AS error,
  argMax(s, (err, Duration)) AS status, argMax(r, (err, Duration)) AS route, max(Duration) / 1e6 AS duration_ms
FROM (SELECT toStartOfInterval(Timestamp, toIntervalSecond({step:UInt32})) AS t, TraceId, Duration,
    ${S.isError} AS err, ${S.status} AS s, ${S.route} AS r
  FROM otel_traces WHERE ${RANGE} AND ${S.layer} = 'client')
WHERE empty({routes:Array(String)}) OR has({routes:Array(String)}, r)
GROUP BY t ORDER BY t LIMIT 200`,
      { from, to, step, routes },
    );
    return { from, to, exemplars: r.rows };
  }
}
