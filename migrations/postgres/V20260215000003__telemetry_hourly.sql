-- telemetry_hourly: per device and hour, the min, max, avg and count of each reading.
-- Where TimescaleDB can (telemetry is a hypertable and the edition has continuous aggregates,
-- not an Apache-only build), a continuous aggregate refreshed hourly by a policy, which also
-- shows the rows not materialized yet (materialized_only = false), so it always agrees with
-- the table. Elsewhere, and under --timescale off, an ordinary view with the same columns, so
-- application queries work everywhere; `plantdb status` shows which it is.
DO $plantdb$
DECLARE
    ts_policy  TEXT := lower(coalesce(nullif(btrim(current_setting('plantdb.timescale', true)), ''), 'auto'));
    aggregates TEXT := 'min(soil_moisture) AS soil_moisture_min, max(soil_moisture) AS soil_moisture_max,
        avg(soil_moisture) AS soil_moisture_avg, count(soil_moisture) AS soil_moisture_count,
        min(temperature) AS temperature_min, max(temperature) AS temperature_max,
        avg(temperature) AS temperature_avg, count(temperature) AS temperature_count,
        min(humidity) AS humidity_min, max(humidity) AS humidity_max,
        avg(humidity) AS humidity_avg, count(humidity) AS humidity_count,
        min(light_level) AS light_level_min, max(light_level) AS light_level_max,
        avg(light_level) AS light_level_avg, count(light_level) AS light_level_count';
    reason     TEXT;
    -- Under --timescale require, telemetry must be a hypertable; an edition without
    -- continuous aggregates still gets the view.
    no_hypertable BOOLEAN := false;
BEGIN
    IF ts_policy = 'off' THEN
        reason := 'TimescaleDB is turned off (--timescale off)';
    ELSIF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        reason := 'TimescaleDB is not installed here';
        no_hypertable := true;
    ELSIF NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                      WHERE hypertable_name = 'telemetry' AND hypertable_schema = current_schema()) THEN
        reason := 'telemetry is not a hypertable';
        no_hypertable := true;
    ELSIF NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'add_continuous_aggregate_policy')
          OR coalesce(current_setting('timescaledb.license', true), '') <> 'timescale' THEN
        reason := 'this TimescaleDB has no continuous aggregates (an Apache-only edition)';
    END IF;
    IF no_hypertable AND ts_policy = 'require' THEN
        RAISE EXCEPTION 'TimescaleDB is required (--timescale require) but cannot be used: %', reason
            USING HINT = 'telemetry must be a hypertable: migrate with TimescaleDB usable, or use --timescale auto|off.';
    END IF;

    IF reason IS NULL THEN
        -- WITH NO DATA: a continuous aggregate with data cannot be created inside the
        -- migration's transaction; the policy and the real-time part fill it.
        EXECUTE format(
            'CREATE MATERIALIZED VIEW telemetry_hourly
                 WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
             SELECT device_id, time_bucket(INTERVAL ''1 hour'', time) AS bucket, %s
             FROM telemetry
             GROUP BY device_id, bucket
             WITH NO DATA', aggregates);
        PERFORM add_continuous_aggregate_policy('telemetry_hourly',
            start_offset => INTERVAL '3 days',
            end_offset => INTERVAL '1 hour',
            schedule_interval => INTERVAL '1 hour');
        RAISE NOTICE 'telemetry_hourly is a continuous aggregate, refreshed hourly';
    ELSE
        -- Hours in UTC, as time_bucket counts them, whatever the session's time zone.
        EXECUTE format(
            'CREATE VIEW telemetry_hourly AS
             SELECT device_id, date_trunc(''hour'', time, ''UTC'') AS bucket, %s
             FROM telemetry
             GROUP BY device_id, bucket', aggregates);
        RAISE NOTICE 'telemetry_hourly is an ordinary view: %', reason;
    END IF;
END
$plantdb$;
