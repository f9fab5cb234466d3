-- plantdb test stand-in for TimescaleDB: NOT TimescaleDB.
-- It only records create_hypertable calls in timescaledb_information.hypertables and
-- .dimensions (the columns TimescaleDB's own views have), so tests can check that plantdb
-- asked for a hypertable. Offered to the test servers by tests/it/support/postgres.rs.

\echo Use "CREATE EXTENSION timescaledb" to load this file. \quit

CREATE SCHEMA timescaledb_information;

CREATE TABLE timescaledb_information.hypertables (
    hypertable_schema name NOT NULL,
    hypertable_name name NOT NULL,
    PRIMARY KEY (hypertable_schema, hypertable_name)
);

CREATE TABLE timescaledb_information.dimensions (
    hypertable_schema name NOT NULL,
    hypertable_name name NOT NULL,
    column_name name NOT NULL,
    FOREIGN KEY (hypertable_schema, hypertable_name)
        REFERENCES timescaledb_information.hypertables
);

CREATE FUNCTION public.create_hypertable(
    relation regclass,
    time_column_name name,
    if_not_exists boolean DEFAULT false,
    -- Accepted (and ignored) because plantdb passes it, as TimescaleDB's own signature allows.
    create_default_indexes boolean DEFAULT true
) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    table_schema name;
    table_name name;
BEGIN
    SELECT n.nspname, c.relname INTO table_schema, table_name
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = relation;

    IF NOT EXISTS (
        SELECT 1 FROM pg_attribute
        WHERE attrelid = relation AND attname = time_column_name AND NOT attisdropped
    ) THEN
        RAISE EXCEPTION 'column "%" does not exist', time_column_name
            USING ERRCODE = 'undefined_column';
    END IF;

    IF EXISTS (
        SELECT 1 FROM timescaledb_information.hypertables h
        WHERE h.hypertable_schema = table_schema AND h.hypertable_name = table_name
    ) THEN
        IF if_not_exists THEN
            RAISE NOTICE 'table "%" is already a hypertable, skipping', table_name;
            RETURN;
        END IF;
        RAISE EXCEPTION 'table "%" is already a hypertable', table_name
            USING ERRCODE = 'duplicate_object';
    END IF;

    INSERT INTO timescaledb_information.hypertables (hypertable_schema, hypertable_name)
    VALUES (table_schema, table_name);
    INSERT INTO timescaledb_information.dimensions (hypertable_schema, hypertable_name, column_name)
    VALUES (table_schema, table_name, time_column_name);
END
$$;
