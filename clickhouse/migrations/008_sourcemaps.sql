-- Source maps and symbolicated exception stacks (@mp-otel/sourcemaps).
-- mp_sourcemaps: the maps uploaded with `mp-otel sourcemaps upload --url …` (production; the embedded store
-- keeps them as files in its data directory), by service ('' = any), release (service.version) and the
-- generated file's path as uploaded. A re-upload replaces a map (latest UploadedAt wins).
CREATE TABLE IF NOT EXISTS {{db}}.mp_sourcemaps (
    ServiceName LowCardinality(String),
    Release String,
    File String,
    Map String CODEC(ZSTD(3)),
    UploadedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(UploadedAt)
ORDER BY (ServiceName, Release, File);

-- mp_symbolicated_stacks: exception stacks of otel_logs, symbolicated out of band (the symbolication loop of
-- `mp-otel up`, `mp-otel sourcemaps upload`, or `mp-otel sourcemaps apply --watch` beside a ClickHouse
-- server), keyed by ServiceName, Release (ResourceAttributes['service.version']) and
-- StackHash = cityHash64(LogAttributes['exception.stacktrace']). Dashboards join on that key; the raw rows
-- are never rewritten. TopFrame is the first frame as "function (file:line:column)" in original sources.
CREATE TABLE IF NOT EXISTS {{db}}.mp_symbolicated_stacks (
    ServiceName LowCardinality(String),
    Release String,
    StackHash UInt64,
    TopFrame String,
    Stack String CODEC(ZSTD(1)),
    SymbolicatedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(SymbolicatedAt)
ORDER BY (ServiceName, Release, StackHash)
{{ttl:toDateTime(SymbolicatedAt):cube}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;
