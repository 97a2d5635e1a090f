-- The SLI cube: spans aggregated per minute per layer / route / status / error code / fingerprint
-- dimensions, filled by a materialized view on otel_traces (so it fills the same way whether rows come
-- from the collector's clickhouse exporter or from the embedded receiver), plus an hourly rollup.
--
-- Layers: client  = SpanKind 'Client' with ResourceAttributes['mp.platform'] != ''
--         gateway = SpanName 'kong' and SpanKind 'Server'
--         backend = any other SpanKind 'Server' span
-- Counts are weighted by SpanAttributes['mp.sampling.weight'] (default 1): sum(Requests) estimates the
-- real request count; Spans is the raw number of stored spans. The columns are CUBE_COLUMNS of
-- @mp-otel/contracts (a test keeps them equal).
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

-- The slow threshold for spans of no catalog route (MP_OTEL_DEFAULT_SLOW_MS when migrated): raw-span
-- queries read it here, so they call a span slow exactly as the view below does.
CREATE VIEW IF NOT EXISTS {{db}}.mp_defaults AS SELECT toUInt32({{default_slow_ms}}) AS default_slow_ms;

-- Which spans count and how: layer, route, status, error, weight, slow verdict and the dimensions are the
-- derivations of @mp-otel/contracts (src/cube.ts), which the migrator renders into this view: the same
-- expressions dashboards, the report and diagnosis use on raw spans. `mp-otel migrate --print` shows it.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mp_sli_1m_mv TO {{db}}.mp_sli_1m AS
{{cube.view}};

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
