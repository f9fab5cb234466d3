-- Drops telemetry_hourly, whichever it is: a continuous aggregate (its refresh policy goes
-- with it) or an ordinary view.
DO $plantdb$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       AND to_regclass('timescaledb_information.continuous_aggregates') IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates
                   WHERE view_name = 'telemetry_hourly' AND view_schema = current_schema()) THEN
            DROP MATERIALIZED VIEW telemetry_hourly;
            RETURN;
        END IF;
    END IF;
    DROP VIEW telemetry_hourly;
END
$plantdb$;
