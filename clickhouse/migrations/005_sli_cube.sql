-- The SLI cube: spans aggregated per minute per layer / route / status / error code / fingerprint
-- dimensions, filled by a materialized view on otel_traces (so it fills the same way whether rows come
-- from the collector's clickhouse exporter or from the embedded receiver), plus an hourly rollup.
--
-- Layers: client  = SpanKind 'Client' with ResourceAttributes['mp.platform'] != ''
--         gateway = SpanName 'kong' and SpanKind 'Server'
--         backend = any other SpanKind 'Server' span
-- Counts are weighted by SpanAttributes['mp.sampling.weight'] (default 1): sum(Requests) estimates the
-- real request count; Spans is the raw number of stored spans.
CREATE TABLE IF NOT EXISTS {{db}}.mp_sli_1m (
    Minute DateTime CODEC(Delta, ZSTD(1)),
    Layer LowCardinality(String),
    Route LowCardinality(String),
    ServiceName LowCardinality(String),
    HttpStatus UInt16,
    ErrorType LowCardinality(String),
    AppErrorCode LowCardinality(String),
    Platform LowCardinality(String),
    OsName LowCardinality(String),
    BaseLibraryVersion LowCardinality(String),
    HostVersion LowCardinality(String),
    AppVersion LowCardinality(String),
    Fingerprint LowCardinality(String),
    NetworkType LowCardinality(String),
    Carrier LowCardinality(String),
    Province LowCardinality(String),
    BackendNode LowCardinality(String),
    Spans SimpleAggregateFunction(sum, UInt64),
    Requests SimpleAggregateFunction(sum, Float64),
    Errors SimpleAggregateFunction(sum, Float64),
    AvailGood SimpleAggregateFunction(sum, Float64),
    AvailTotal SimpleAggregateFunction(sum, Float64),
    Slow SimpleAggregateFunction(sum, Float64),
    DurationSumMs SimpleAggregateFunction(sum, Float64),
    DurationMaxMs SimpleAggregateFunction(max, Float64),
    LatencyMs AggregateFunction(quantilesTDigestWeighted(0.5, 0.9, 0.95, 0.99), Float64, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(Minute)
ORDER BY (Layer, Route, Minute, ServiceName, HttpStatus, ErrorType, AppErrorCode, Platform, OsName,
          BaseLibraryVersion, HostVersion, AppVersion, Fingerprint, NetworkType, Carrier, Province, BackendNode)
{{ttl:Minute:cube}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mp_sli_1m_mv TO {{db}}.mp_sli_1m AS
WITH
    (SELECT (groupArray(name), groupArray(match_regex), groupArray(slo_latency_ms))
       FROM (SELECT name, match_regex, slo_latency_ms FROM {{db}}.mp_routes ORDER BY length(path) DESC, name)) AS routes,
    multiIf(SpanKind = 'Client' AND ResourceAttributes['mp.platform'] != '', 'client',
            SpanKind = 'Server' AND SpanName = 'kong', 'gateway',
            SpanKind = 'Server', 'backend', '') AS layer,
    if(SpanAttributes['http.request.method'] != '', SpanAttributes['http.request.method'],
       SpanAttributes['http.method']) AS method,
    multiIf(SpanAttributes['http.route'] != '', SpanAttributes['http.route'],
            SpanAttributes['url.full'] != '', path(SpanAttributes['url.full']),
            SpanAttributes['http.url'] != '', path(SpanAttributes['http.url']),
            SpanAttributes['url.path'] != '', SpanAttributes['url.path'],
            path(concat('http://x', SpanAttributes['http.target']))) AS target,
    if(SpanAttributes['mp.route_name'] != '', SpanAttributes['mp.route_name'],
       arrayElement(routes.1, arrayFirstIndex(rx -> match(concat(method, ' ', target), rx), routes.2))) AS route,
    toUInt16OrZero(if(SpanAttributes['http.response.status_code'] != '', SpanAttributes['http.response.status_code'],
                      SpanAttributes['http.status_code'])) AS status,
    SpanAttributes['error.type'] AS error_type,
    (StatusCode = 'Error' OR status >= 400 OR error_type != '') AS is_error,
    greatest(toFloat64OrZero(SpanAttributes['mp.sampling.weight']), 0) AS w0,
    if(w0 > 0, w0, 1.0) AS weight,
    Duration / 1e6 AS ms,
    arrayElement(routes.3, indexOf(routes.1, route)) AS slo_ms,
    multiIf(SpanAttributes['client.address'] != '', SpanAttributes['client.address'],
            ResourceAttributes['client.address'] != '', ResourceAttributes['client.address'],
            SpanAttributes['http.client_ip']) AS ip,
    toUInt32(toIPv4OrDefault(ip)) AS ipnum,
    if(ipnum = 0, tuple('', ''),
       dictGetOrDefault('{{db}}.mp_ip_geo_dict', ('province', 'carrier'), toUInt64(0), ipnum, tuple('', ''))) AS geo
SELECT
    toStartOfMinute(Timestamp) AS Minute,
    layer AS Layer,
    route AS Route,
    ServiceName,
    status AS HttpStatus,
    error_type AS ErrorType,
    SpanAttributes['app.error_code'] AS AppErrorCode,
    ResourceAttributes['mp.platform'] AS Platform,
    ResourceAttributes['os.name'] AS OsName,
    ResourceAttributes['mp.base_library.version'] AS BaseLibraryVersion,
    ResourceAttributes['mp.host.version'] AS HostVersion,
    ResourceAttributes['service.version'] AS AppVersion,
    if(SpanAttributes['mp.fingerprint'] != '', SpanAttributes['mp.fingerprint'],
       ResourceAttributes['mp.fingerprint']) AS Fingerprint,
    if(SpanAttributes['network.connection.subtype'] != '', SpanAttributes['network.connection.subtype'],
       SpanAttributes['network.connection.type']) AS NetworkType,
    geo.2 AS Carrier,
    geo.1 AS Province,
    if(layer = 'backend', ResourceAttributes['host.name'], '') AS BackendNode,
    count() AS Spans,
    sum(weight) AS Requests,
    sumIf(weight, is_error) AS Errors,
    sumIf(weight, NOT is_error AND error_type != 'abort') AS AvailGood,
    sumIf(weight, error_type != 'abort') AS AvailTotal,
    sumIf(weight, ms > if(slo_ms > 0, slo_ms, {{default_slow_ms}})) AS Slow,
    sum(ms * weight) AS DurationSumMs,
    max(ms) AS DurationMaxMs,
    quantilesTDigestWeightedState(0.5, 0.9, 0.95, 0.99)(ms, toUInt64(greatest(1, round(weight)))) AS LatencyMs
FROM {{db}}.otel_traces
WHERE layer != ''
GROUP BY Minute, Layer, Route, ServiceName, HttpStatus, ErrorType, AppErrorCode, Platform, OsName,
         BaseLibraryVersion, HostVersion, AppVersion, Fingerprint, NetworkType, Carrier, Province, BackendNode;

-- Hourly rollup for long-term trends (fed from the per-minute cube's inserts).
CREATE TABLE IF NOT EXISTS {{db}}.mp_sli_1h AS {{db}}.mp_sli_1m
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(Minute)
ORDER BY (Layer, Route, Minute, ServiceName, HttpStatus, ErrorType, AppErrorCode, Platform, OsName,
          BaseLibraryVersion, HostVersion, AppVersion, Fingerprint, NetworkType, Carrier, Province, BackendNode)
{{ttl:Minute:rollup}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mp_sli_1h_mv TO {{db}}.mp_sli_1h AS
SELECT
    toStartOfHour(Minute) AS Minute,
    Layer, Route, ServiceName, HttpStatus, ErrorType, AppErrorCode, Platform, OsName,
    BaseLibraryVersion, HostVersion, AppVersion, Fingerprint, NetworkType, Carrier, Province, BackendNode,
    sum(Spans) AS Spans,
    sum(Requests) AS Requests,
    sum(Errors) AS Errors,
    sum(AvailGood) AS AvailGood,
    sum(AvailTotal) AS AvailTotal,
    sum(Slow) AS Slow,
    sum(DurationSumMs) AS DurationSumMs,
    max(DurationMaxMs) AS DurationMaxMs,
    quantilesTDigestWeightedMergeState(0.5, 0.9, 0.95, 0.99)(LatencyMs) AS LatencyMs
FROM {{db}}.mp_sli_1m
GROUP BY Minute, Layer, Route, ServiceName, HttpStatus, ErrorType, AppErrorCode, Platform, OsName,
         BaseLibraryVersion, HostVersion, AppVersion, Fingerprint, NetworkType, Carrier, Province, BackendNode;
