-- Removes the telemetry compression policy and decompresses every compressed chunk, so that
-- compression can be turned off; nothing to do where the up migration was a no-op.
DO $plantdb$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       OR NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'remove_compression_policy') THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                   WHERE hypertable_name = 'telemetry' AND hypertable_schema = current_schema()
                     AND compression_enabled) THEN
        RETURN;
    END IF;
    PERFORM remove_compression_policy('telemetry', if_exists => true);
    PERFORM decompress_chunk(chunk, if_compressed => true) FROM show_chunks('telemetry') AS chunk;
    EXECUTE 'ALTER TABLE telemetry SET (timescaledb.compress = false)';
END
$plantdb$;
