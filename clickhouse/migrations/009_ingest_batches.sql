-- Batch ids the OTLP receiver has written (x-mp-otel-batch), so that a retried payload is stored once even
-- across a restart. Key = sha256(signal, ingest key id, batch id, sha256(body)): one client cannot claim
-- another's payload with its id, and a batch id only matches the very payload it was first written with.
-- The receiver writes a row after the batch's data (never before), loads the last window at start and
-- looks keys up here when its in-memory set is not complete. Rows expire after a day.
CREATE TABLE IF NOT EXISTS {{db}}.mp_ingest_batches (
    Key FixedString(32),
    Seen DateTime,
    Rows UInt32
) ENGINE = ReplacingMergeTree(Seen)
ORDER BY Key
TTL Seen + toIntervalDay(1)
SETTINGS index_granularity = 1024;
