-- plantdb:foreign-keys-off
-- Removes plant scoping: rebuilds hierarchy and mqtt_broker without plant_id, then drops plant.
-- SQLite cannot drop a column that carries a foreign key, so each table is rebuilt
-- (create new, copy, drop, rename) with foreign keys off (the directive above); the
-- engine runs PRAGMA foreign_key_check before committing.

-- Original definition from spc_initial_schema. The self-reference names hierarchy:
-- once hierarchy_new is renamed it points at itself, and characteristic.hierarchy_id
-- resolves to the rebuilt table by name.
CREATE TABLE hierarchy_new (
    id        INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES hierarchy (id),
    name      TEXT NOT NULL,
    type      TEXT NOT NULL
);

INSERT INTO hierarchy_new (id, parent_id, name, type)
SELECT id, parent_id, name, type FROM hierarchy;

DROP TABLE hierarchy;
ALTER TABLE hierarchy_new RENAME TO hierarchy;
-- hierarchy has no indexes of its own (ix_characteristic_hierarchy_id is on characteristic).

-- Original definition from add_mqtt_broker; its only index is the UNIQUE on name,
-- which the table definition recreates.
CREATE TABLE mqtt_broker_new (
    id                  INTEGER PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    host                TEXT NOT NULL,
    port                INTEGER NOT NULL DEFAULT 1883,
    username            TEXT,
    password            TEXT,
    client_id           TEXT NOT NULL DEFAULT 'openspc-client',
    keepalive           INTEGER NOT NULL DEFAULT 60,
    max_reconnect_delay INTEGER NOT NULL DEFAULT 300,
    use_tls             INTEGER NOT NULL DEFAULT 0 CHECK (use_tls IN (0, 1)),
    is_active           INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

INSERT INTO mqtt_broker_new (id, name, host, port, username, password, client_id, keepalive, max_reconnect_delay, use_tls, is_active, created_at, updated_at)
SELECT id, name, host, port, username, password, client_id, keepalive, max_reconnect_delay, use_tls, is_active, created_at, updated_at FROM mqtt_broker;

DROP TABLE mqtt_broker;
ALTER TABLE mqtt_broker_new RENAME TO mqtt_broker;

DROP TABLE plant;
