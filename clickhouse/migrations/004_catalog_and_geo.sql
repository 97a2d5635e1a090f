-- The route catalog (catalog/catalog.yaml, loaded by `mp-otel catalog load` / at `mp-otel up`) and the IP
-- geo/carrier database (ip2region, loaded by `mp-otel geo load` / at `mp-otel up`). Both are plain tables
-- so that the same loader (through @clickhouse/client) fills them on chDB and on a ClickHouse server.
CREATE TABLE IF NOT EXISTS {{db}}.mp_routes (
    name LowCardinality(String),
    business LowCardinality(String),
    department LowCardinality(String),
    page String,
    service LowCardinality(String),
    method LowCardinality(String),
    path String,
    -- regex matched against concat(method, ' ', <http.route | url path>) by the SLI cube
    match_regex String,
    slo_availability Float64,
    slo_latency_ms UInt32,
    loaded_at DateTime DEFAULT now()
) ENGINE = MergeTree
ORDER BY name;

-- One row per IPv4 range (ip_start..ip_end inclusive, as UInt32).
CREATE TABLE IF NOT EXISTS {{db}}.mp_ip_geo (
    ip_start UInt32,
    ip_end UInt32,
    country LowCardinality(String),
    province LowCardinality(String),
    city LowCardinality(String),
    isp LowCardinality(String),
    -- normalised carrier: telecom | unicom | mobile | cernet | other | '' (unknown)
    carrier LowCardinality(String)
) ENGINE = MergeTree
ORDER BY ip_start;

-- Approximate coordinates (provincial capital) for map panels.
CREATE TABLE IF NOT EXISTS {{db}}.mp_geo_province (
    province LowCardinality(String),
    province_en LowCardinality(String),
    lat Float64,
    lon Float64
) ENGINE = ReplacingMergeTree
ORDER BY province;

CREATE DICTIONARY IF NOT EXISTS {{db}}.mp_ip_geo_dict (
    k UInt64,
    ip_start UInt32,
    ip_end UInt32,
    country String,
    province String,
    city String,
    isp String,
    carrier String
)
PRIMARY KEY k
SOURCE(CLICKHOUSE(QUERY 'SELECT toUInt64(0) AS k, ip_start, ip_end, country, province, city, isp, carrier FROM {{db}}.mp_ip_geo' {{dict_auth}}))
LIFETIME(MIN 0 MAX 3600)
LAYOUT(RANGE_HASHED())
RANGE(MIN ip_start MAX ip_end);
