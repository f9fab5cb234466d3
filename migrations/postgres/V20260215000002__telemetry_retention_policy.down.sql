-- Removes the telemetry retention policy; nothing to do where the up migration was a no-op.
DO $plantdb$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       OR NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'remove_retention_policy') THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM timescaledb_information.hypertables
               WHERE hypertable_name = 'telemetry' AND hypertable_schema = current_schema()) THEN
        PERFORM remove_retention_policy('telemetry', if_exists => true);
    END IF;
END
$plantdb$;
