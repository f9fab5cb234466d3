-- Distributes the garden's tables over a Citus cluster, where the engine says Citus is in use
-- (session setting plantdb.citus = 'on', from --citus). Elsewhere it is a recorded no-op that
-- says why. `plantdb migrate distribute` runs this same script again on a database that was
-- migrated before it joined a cluster.
--
-- The design (README, Citus):
--   reference tables, copied to every node: plants, settings, care_plans;
--   distributed by device, colocated: devices (id), telemetry (device_id), alerts (device_id);
--   everything else stays a local table on the coordinator.
-- Citus wants the distribution column in every unique key of a distributed table: the unique
-- keys devices.mac_address and devices.mqtt_username are dropped, and alerts' primary key
-- becomes (device_id, id). Every foreign key between these tables is kept.
--
-- One transaction: the foreign keys between the tables are set aside, the tables distributed
-- (create_distributed_table copies any rows they already hold), the keys put back with their
-- own definitions, and the local copies of the rows truncated.
DO $plantdb$
DECLARE
    reference_tables   TEXT[] := ARRAY['plants', 'settings', 'care_plans'];
    -- Referenced tables first: each one is colocated with devices.
    distributed_tables TEXT[] := ARRAY['devices', 'telemetry', 'alerts'];
    distribution_columns TEXT[] := ARRAY['id', 'device_id', 'device_id'];
    all_tables         TEXT[] := reference_tables || distributed_tables;
    managed            TEXT[];
    fk                 RECORD;
    saved_fks          TEXT[] := ARRAY[]::TEXT[];
    saved_tables       TEXT[] := ARRAY[]::TEXT[];
    saved_names        TEXT[] := ARRAY[]::TEXT[];
    unique_key         RECORD;
    tbl                TEXT;
    quiet              TEXT;
    missing_rows       BIGINT;
    i                  INTEGER;
BEGIN
    IF coalesce(current_setting('plantdb.citus', true), '') <> 'on' THEN
        RAISE NOTICE 'the tables stay local: Citus is not in use (see --citus)';
        RETURN;
    END IF;

    -- Only reference and distributed tables count: Citus turns a table that references a
    -- reference table into a "local" one of its own by itself.
    SELECT coalesce(array_agg(t.table_name::text ORDER BY 1), ARRAY[]::TEXT[]) INTO managed
    FROM citus_tables t
    WHERE t.table_name::text = ANY (all_tables)
      AND t.citus_table_type IN ('distributed', 'reference');
    IF cardinality(managed) = cardinality(all_tables) THEN
        RAISE NOTICE 'the tables are distributed already';
        RETURN;
    ELSIF cardinality(managed) > 0 THEN
        RAISE EXCEPTION 'some of the tables are distributed already (%), the others not', array_to_string(managed, ', ')
            USING HINT = 'undistribute them (undistribute_table) so that plantdb distributes all of them by its design, or finish by hand as the README''s Citus design says';
    END IF;

    -- Citus refuses a NULL distribution column; say which table holds one.
    FOR i IN 1 .. cardinality(distributed_tables) LOOP
        EXECUTE format('SELECT count(*) FROM %I WHERE %I IS NULL', distributed_tables[i], distribution_columns[i])
            INTO missing_rows;
        IF missing_rows > 0 THEN
            RAISE EXCEPTION 'cannot distribute %: % row(s) have no %, the column Citus distributes it by',
                    distributed_tables[i], missing_rows, distribution_columns[i]
                USING HINT = format('delete those rows or give them a device (SELECT * FROM %I WHERE %I IS NULL), then distribute again',
                                    distributed_tables[i], distribution_columns[i]);
        END IF;
    END LOOP;

    -- Foreign keys to reference tables created earlier in this transaction need Citus's
    -- sequential mode: in parallel mode it refuses them.
    PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);

    -- Set aside the foreign keys between the tables, with their definitions: a table that
    -- references a reference table becomes a Citus local table, which then cannot be
    -- distributed while another table references it.
    FOR fk IN
        SELECT c.conname::text AS name, r.relname::text AS tbl, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        JOIN pg_class r ON r.oid = c.conrelid
        JOIN pg_class f ON f.oid = c.confrelid
        WHERE c.contype = 'f'
          AND r.relnamespace = current_schema()::regnamespace
          AND f.relnamespace = current_schema()::regnamespace
          AND r.relname::text = ANY (all_tables) AND f.relname::text = ANY (all_tables)
        ORDER BY r.relname, c.conname
    LOOP
        saved_names := saved_names || fk.name;
        saved_tables := saved_tables || fk.tbl;
        saved_fks := saved_fks || fk.def;
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', fk.tbl, fk.name);
    END LOOP;

    -- Unique keys without the distribution column cannot be enforced across shards.
    FOR i IN 1 .. cardinality(distributed_tables) LOOP
        FOR unique_key IN
            SELECT c.conname::text AS name, c.contype
            FROM pg_constraint c
            WHERE c.conrelid = format('%I', distributed_tables[i])::regclass
              AND c.contype IN ('p', 'u')
              AND NOT EXISTS (
                  SELECT 1 FROM pg_attribute a
                  WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                    AND a.attname = distribution_columns[i])
        LOOP
            IF unique_key.contype = 'p' THEN
                -- The id stays unique: one sequence on the coordinator draws every id.
                EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I, ADD CONSTRAINT %I PRIMARY KEY (%I, id)',
                               distributed_tables[i], unique_key.name, unique_key.name, distribution_columns[i]);
                RAISE NOTICE '%''s primary key is now (%, id): Citus needs the distribution column in it',
                    distributed_tables[i], distribution_columns[i];
            ELSE
                EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', distributed_tables[i], unique_key.name);
                RAISE NOTICE 'dropped unique key % of %: Citus cannot enforce a unique key without the distribution column',
                    unique_key.name, distributed_tables[i];
            END IF;
        END LOOP;
    END LOOP;

    -- Citus narrates each table's copy; the keys this script changed are said above.
    quiet := current_setting('client_min_messages');
    PERFORM set_config('client_min_messages', 'warning', true);
    FOREACH tbl IN ARRAY reference_tables LOOP
        PERFORM create_reference_table(tbl);
    END LOOP;
    PERFORM create_distributed_table(distributed_tables[1], distribution_columns[1]);
    FOR i IN 2 .. cardinality(distributed_tables) LOOP
        PERFORM create_distributed_table(distributed_tables[i], distribution_columns[i],
                                         colocate_with => distributed_tables[1]);
    END LOOP;

    FOR i IN 1 .. cardinality(saved_fks) LOOP
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s', saved_tables[i], saved_names[i], saved_fks[i]);
    END LOOP;

    -- create_distributed_table copied the rows to the shards; the coordinator's own copies
    -- are no longer visible but stay on disk until truncated.
    -- Each truncation names the tables it cascades to, which are truncated too.
    FOREACH tbl IN ARRAY all_tables LOOP
        PERFORM truncate_local_data_after_distributing_table(format('%I', tbl)::regclass);
    END LOOP;
    PERFORM set_config('client_min_messages', quiet, true);
    RAISE NOTICE 'distributed devices, telemetry and alerts by device over % worker(s); plants, settings and care_plans are reference tables',
        (SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND isactive AND groupid <> 0);
END
$plantdb$;
