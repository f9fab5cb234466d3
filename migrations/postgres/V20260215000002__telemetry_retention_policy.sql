-- Drops telemetry chunks older than the plantdb.telemetry_retain_for session setting (default
-- 365 days) where TimescaleDB can: telemetry is a hypertable and the TimescaleDB edition has
-- policies (not an Apache-only build). Elsewhere, and under --timescale off, this migration is
-- a recorded no-op and says why; `plantdb status` shows which happened.
-- The engine sets plantdb.telemetry_retain_for from PLANTDB_TELEMETRY_RETAIN_FOR for each
-- connection, so the setting never changes this script (nor its checksum).
DO $plantdb$
DECLARE
    ts_policy  TEXT := lower(coalesce(nullif(btrim(current_setting('plantdb.timescale', true)), ''), 'auto'));
    retain_for INTERVAL := coalesce(nullif(btrim(current_setting('plantdb.telemetry_retain_for', true)), ''), '365 days')::interval;
BEGIN
    IF ts_policy = 'off' THEN
        RAISE NOTICE 'no telemetry retention policy: TimescaleDB is turned off (--timescale off)';
        RETURN;
    END IF;
    -- Each catalog is read only once the one before says it exists (see the compression policy).
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        IF ts_policy = 'require' THEN
            RAISE EXCEPTION 'TimescaleDB is required (--timescale require) but is not installed in this database'
                USING HINT = 'Migrate with --timescale require from the start, or use --timescale auto|off.';
        END IF;
        RAISE NOTICE 'no telemetry retention policy: TimescaleDB is not installed here';
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                   WHERE hypertable_name = 'telemetry' AND hypertable_schema = current_schema()) THEN
        IF ts_policy = 'require' THEN
            RAISE EXCEPTION 'TimescaleDB is required (--timescale require) but telemetry is not a hypertable'
                USING HINT = 'telemetry became a plain table when it was created; recreate it (migrate down past create_telemetry, then up) with TimescaleDB usable.';
        END IF;
        RAISE NOTICE 'no telemetry retention policy: telemetry is not a hypertable';
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'add_retention_policy')
       OR coalesce(current_setting('timescaledb.license', true), '') <> 'timescale' THEN
        RAISE NOTICE 'no telemetry retention policy: this TimescaleDB has no policies (an Apache-only edition)';
        RETURN;
    END IF;

    PERFORM add_retention_policy('telemetry', retain_for);
    RAISE NOTICE 'telemetry chunks are dropped after %', retain_for;
END
$plantdb$;
