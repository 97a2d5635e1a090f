-- A slim per-minute cube for overview panels and alert rules: the SLI measures per layer / route /
-- service / HTTP status / error type / app error code only (no fingerprint dimensions), fed from the
-- full cube's inserts so both always agree. Read it like mp_sli_1m.
CREATE TABLE IF NOT EXISTS {{db}}.mp_sli_route_1m (
    Minute DateTime CODEC(Delta, ZSTD(1)),
    Layer LowCardinality(String),
    Route LowCardinality(String),
    ServiceName LowCardinality(String),
    HttpStatus UInt16,
    ErrorType LowCardinality(String),
    AppErrorCode LowCardinality(String),
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
ORDER BY (Layer, Route, Minute, ServiceName, HttpStatus, ErrorType, AppErrorCode)
{{ttl:Minute:rollup}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mp_sli_route_1m_mv TO {{db}}.mp_sli_route_1m AS
SELECT
    Minute, Layer, Route, ServiceName, HttpStatus, ErrorType, AppErrorCode,
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
GROUP BY Minute, Layer, Route, ServiceName, HttpStatus, ErrorType, AppErrorCode;
