-- Creates mqtt_broker: the MQTT connection settings SPC uses to receive tag data.
CREATE TABLE mqtt_broker (
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
