-- Brings the garden's tables back from the Citus cluster to the coordinator as plain local
-- tables, rows included, and restores the keys the up migration changed: the unique keys
-- devices.mac_address and devices.mqtt_username, and alerts' primary key on id alone.
-- Nothing to do where the up migration was a no-op: the catalog says, not --citus, so that a
-- cluster's tables are brought back whatever the session's policy.
DO $plantdb$
DECLARE
    -- Referencing tables first.
    all_tables   TEXT[] := ARRAY['alerts', 'telemetry', 'devices', 'care_plans', 'settings', 'plants'];
    tbl          TEXT;
    quiet        TEXT := current_setting('client_min_messages');
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM citus_tables t
                   WHERE t.table_name::text = ANY (all_tables)
                     AND t.citus_table_type IN ('distributed', 'reference')) THEN
        RETURN;
    END IF;
    PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);

    -- undistribute_table narrates each step of each table: quiet.
    PERFORM set_config('client_min_messages', 'warning', true);
    -- Citus brings back together the tables that foreign keys connect, keys included; undoing
    -- them one by one would have to drop those keys first, and Citus then waits on itself.
    FOREACH tbl IN ARRAY all_tables LOOP
        IF EXISTS (SELECT 1 FROM citus_tables t WHERE t.table_name::text = tbl) THEN
            PERFORM undistribute_table(format('%I', tbl)::regclass, cascade_via_foreign_keys => true);
        END IF;
    END LOOP;

    PERFORM set_config('client_min_messages', quiet, true);

    IF (SELECT array_agg(a.attname::text ORDER BY k.ord)
        FROM pg_constraint c
        CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
        WHERE c.conrelid = 'alerts'::regclass AND c.contype = 'p') = ARRAY['device_id', 'id'] THEN
        -- The primary key made device_id NOT NULL; the table had it nullable.
        ALTER TABLE alerts DROP CONSTRAINT alerts_pkey, ADD CONSTRAINT alerts_pkey PRIMARY KEY (id);
        ALTER TABLE alerts ALTER COLUMN device_id DROP NOT NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'devices_mac_address_key'
                   AND conrelid = 'devices'::regclass) THEN
        ALTER TABLE devices ADD CONSTRAINT devices_mac_address_key UNIQUE (mac_address);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'devices_mqtt_username_key'
                   AND conrelid = 'devices'::regclass) THEN
        ALTER TABLE devices ADD CONSTRAINT devices_mqtt_username_key UNIQUE (mqtt_username);
    END IF;
END
$plantdb$;
