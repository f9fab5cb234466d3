-- Creates telemetry (time-series sensor readings) and, as the plantdb.timescale policy
-- allows, turns it into a TimescaleDB hypertable.
CREATE TABLE telemetry (
    time          TIMESTAMPTZ NOT NULL,
    device_id     TEXT REFERENCES devices (id) ON DELETE CASCADE,
    plant_id      TEXT REFERENCES plants (id) ON DELETE SET NULL,
    soil_moisture DOUBLE PRECISION,
    temperature   DOUBLE PRECISION,
    humidity      DOUBLE PRECISION,
    light_level   DOUBLE PRECISION
);

CREATE INDEX idx_telemetry_device ON telemetry (device_id, time DESC);
CREATE INDEX idx_telemetry_plant ON telemetry (plant_id, time DESC);

-- The decision is made here, in SQL, from the catalogs: a failed statement would abort
-- the surrounding transaction, so nothing is attempted that could fail, and the block
-- raises only when the policy is 'require' and TimescaleDB cannot be used.
-- Policy: session setting plantdb.timescale (set by the engine), auto | require | off;
-- missing or empty means auto.
DO $plantdb$
DECLARE
    ts_policy TEXT := lower(coalesce(nullif(btrim(current_setting('plantdb.timescale', true)), ''), 'auto'));
    installed BOOLEAN;
    reason    TEXT;
    fix_hint  TEXT;
BEGIN
    IF ts_policy NOT IN ('auto', 'require', 'off') THEN
        RAISE EXCEPTION 'unknown TimescaleDB policy "%": expected auto, require or off', ts_policy
            USING HINT = 'Use --timescale auto|require|off.';
    END IF;

    IF ts_policy = 'off' THEN
        RAISE NOTICE 'telemetry stays a plain table: TimescaleDB is turned off (--timescale off)';
        RETURN;
    END IF;

    installed := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');

    IF NOT installed THEN
        -- CREATE EXTENSION is only attempted when it cannot fail: without the library in
        -- shared_preload_libraries it is a FATAL error that ends the connection.
        -- The preload list is read from pg_settings, not current_setting(): the latter
        -- errors for unprivileged roles, while pg_settings just hides the row (NULL).
        IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
            reason := 'the timescaledb extension is not available on this server';
            fix_hint := 'Install TimescaleDB on the PostgreSQL server and add timescaledb to shared_preload_libraries, or use --timescale auto|off.';
        ELSIF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper) THEN
            reason := format('creating the timescaledb extension needs a superuser, and %s is not one', current_user);
            fix_hint := 'Have a superuser run CREATE EXTENSION timescaledb in this database (with timescaledb in shared_preload_libraries), or use --timescale auto|off.';
        ELSIF NOT coalesce((
                SELECT 'timescaledb' = ANY (string_to_array(replace(replace(setting, ' ', ''), '"', ''), ','))
                FROM pg_settings
                WHERE name = 'shared_preload_libraries'
            ), false) THEN
            reason := 'timescaledb is not in shared_preload_libraries';
            fix_hint := 'Add timescaledb to shared_preload_libraries in postgresql.conf and restart the server, or use --timescale auto|off.';
        ELSE
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            installed := true;
        END IF;
    END IF;

    IF installed THEN
        -- Our two indexes already cover time; skip TimescaleDB's default one so both dialects
        -- keep the same indexes.
        PERFORM create_hypertable('telemetry', 'time', if_not_exists => TRUE,
                                  create_default_indexes => FALSE);
        RAISE NOTICE 'telemetry is a TimescaleDB hypertable on time';
    ELSIF ts_policy = 'require' THEN
        RAISE EXCEPTION 'TimescaleDB is required (--timescale require) but cannot be used: %', reason
            USING HINT = fix_hint;
    ELSE
        RAISE NOTICE 'telemetry stays a plain table: TimescaleDB is not usable here (%)', reason;
    END IF;
END
$plantdb$;
