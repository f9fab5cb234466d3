-- Drops the telemetry_hourly view.
DROP VIEW telemetry_hourly;
