-- Compresses telemetry chunks older than the plantdb.telemetry_compress_after session setting
-- (default 7 days), segmented by device and ordered by time descending, where TimescaleDB can:
-- telemetry is a hypertable and the TimescaleDB edition has compression and policies (not an
-- Apache-only build). Elsewhere, and under --timescale off, this migration is a recorded no-op
-- and says why; `plantdb status` shows which happened.
-- The engine sets plantdb.telemetry_compress_after from PLANTDB_TELEMETRY_COMPRESS_AFTER for
-- each connection, so the setting never changes this script (nor its checksum).
DO $plantdb$
DECLARE
    ts_policy      TEXT := lower(coalesce(nullif(btrim(current_setting('plantdb.timescale', true)), ''), 'auto'));
    compress_after INTERVAL := coalesce(nullif(btrim(current_setting('plantdb.telemetry_compress_after', true)), ''), '7 days')::interval;
BEGIN
    IF ts_policy = 'off' THEN
        RAISE NOTICE 'no telemetry compression policy: TimescaleDB is turned off (--timescale off)';
        RETURN;
    END IF;
    -- Each catalog is read only once the one before says it exists: a missing view would be an
    -- error, and an error aborts the transaction.
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        IF ts_policy = 'require' THEN
            RAISE EXCEPTION 'TimescaleDB is required (--timescale require) but is not installed in this database'
                USING HINT = 'Migrate with --timescale require from the start, or use --timescale auto|off.';
        END IF;
        RAISE NOTICE 'no telemetry compression policy: TimescaleDB is not installed here';
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                   WHERE hypertable_name = 'telemetry' AND hypertable_schema = current_schema()) THEN
        IF ts_policy = 'require' THEN
            RAISE EXCEPTION 'TimescaleDB is required (--timescale require) but telemetry is not a hypertable'
                USING HINT = 'telemetry became a plain table when it was created; recreate it (migrate down past create_telemetry, then up) with TimescaleDB usable.';
        END IF;
        RAISE NOTICE 'no telemetry compression policy: telemetry is not a hypertable';
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'add_compression_policy')
       OR coalesce(current_setting('timescaledb.license', true), '') <> 'timescale' THEN
        RAISE NOTICE 'no telemetry compression policy: this TimescaleDB has no compression (an Apache-only edition)';
        RETURN;
    END IF;

    -- Dynamic SQL: PostgreSQL itself rejects the timescaledb.* options where TimescaleDB
    -- does not handle them, and a static statement is checked when the block is compiled.
    EXECUTE 'ALTER TABLE telemetry SET (timescaledb.compress, '
            'timescaledb.compress_segmentby = ''device_id'', '
            'timescaledb.compress_orderby = ''time DESC'')';
    PERFORM add_compression_policy('telemetry', compress_after);
    RAISE NOTICE 'telemetry chunks are compressed after %', compress_after;
END
$plantdb$;
