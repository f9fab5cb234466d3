-- Creates telemetry: time-series sensor readings (a plain table; TimescaleDB is PostgreSQL only).
CREATE TABLE telemetry (
    time          TEXT NOT NULL,
    device_id     TEXT REFERENCES devices (id) ON DELETE CASCADE,
    plant_id      TEXT REFERENCES plants (id) ON DELETE SET NULL,
    soil_moisture REAL,
    temperature   REAL,
    humidity      REAL,
    light_level   REAL
);

CREATE INDEX idx_telemetry_device ON telemetry (device_id, time DESC);
CREATE INDEX idx_telemetry_plant ON telemetry (plant_id, time DESC);
