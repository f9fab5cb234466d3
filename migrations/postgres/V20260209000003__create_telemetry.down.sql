-- Drops telemetry (a hypertable is dropped the same way, chunks included).
-- The timescaledb extension is left installed: other data may use it.
DROP TABLE telemetry;
