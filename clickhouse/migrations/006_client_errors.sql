-- Client exceptions per minute (OTLP log records with event name / attribute event.name 'exception'),
-- weighted by mp.error.count (how many identical errors one record stands for after client-side dedup).
CREATE TABLE IF NOT EXISTS {{db}}.mp_errors_1m (
    Minute DateTime CODEC(Delta, ZSTD(1)),
    ServiceName LowCardinality(String),
    PageRoute LowCardinality(String),
    ExceptionType LowCardinality(String),
    Platform LowCardinality(String),
    OsName LowCardinality(String),
    BaseLibraryVersion LowCardinality(String),
    HostVersion LowCardinality(String),
    AppVersion LowCardinality(String),
    Fingerprint LowCardinality(String),
    Records SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, Float64),
    SampleMessage SimpleAggregateFunction(any, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(Minute)
ORDER BY (ServiceName, ExceptionType, Minute, PageRoute, Platform, OsName, BaseLibraryVersion, HostVersion,
          AppVersion, Fingerprint)
{{ttl:Minute:cube}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mp_errors_1m_mv TO {{db}}.mp_errors_1m AS
SELECT
    toStartOfMinute(Timestamp) AS Minute,
    ServiceName,
    LogAttributes['mp.page.route'] AS PageRoute,
    LogAttributes['exception.type'] AS ExceptionType,
    ResourceAttributes['mp.platform'] AS Platform,
    ResourceAttributes['os.name'] AS OsName,
    ResourceAttributes['mp.base_library.version'] AS BaseLibraryVersion,
    ResourceAttributes['mp.host.version'] AS HostVersion,
    ResourceAttributes['service.version'] AS AppVersion,
    ResourceAttributes['mp.fingerprint'] AS Fingerprint,
    count() AS Records,
    sum(if(toFloat64OrZero(LogAttributes['mp.error.count']) > 0, toFloat64OrZero(LogAttributes['mp.error.count']), 1.0)) AS Errors,
    any(LogAttributes['exception.message']) AS SampleMessage
FROM {{db}}.otel_logs
WHERE EventName = 'exception' OR LogAttributes['event.name'] = 'exception' OR LogAttributes['exception.type'] != ''
GROUP BY Minute, ServiceName, PageRoute, ExceptionType, Platform, OsName, BaseLibraryVersion, HostVersion,
         AppVersion, Fingerprint;
