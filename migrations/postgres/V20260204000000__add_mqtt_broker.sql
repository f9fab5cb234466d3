-- Creates mqtt_broker: the MQTT connection settings SPC uses to receive tag data.
CREATE TABLE mqtt_broker (
    id                  SERIAL PRIMARY KEY,
    name                VARCHAR(100) NOT NULL UNIQUE,
    host                VARCHAR(255) NOT NULL,
    port                INTEGER NOT NULL DEFAULT 1883,
    username            VARCHAR(100),
    password            VARCHAR(255),
    client_id           VARCHAR(100) NOT NULL DEFAULT 'openspc-client',
    keepalive           INTEGER NOT NULL DEFAULT 60,
    max_reconnect_delay INTEGER NOT NULL DEFAULT 300,
    use_tls             BOOLEAN NOT NULL DEFAULT false,
    is_active           BOOLEAN NOT NULL DEFAULT true,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
