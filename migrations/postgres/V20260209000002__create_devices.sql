-- Creates devices: the garden's sensor devices and their MQTT credentials.
-- mqtt_password_hash is a salted hash; a device outlives the plant it watched (SET NULL).
CREATE TABLE devices (
    id                 TEXT PRIMARY KEY,
    mac_address        TEXT UNIQUE,
    mqtt_username      TEXT UNIQUE,
    mqtt_password_hash TEXT NOT NULL,
    plant_id           TEXT REFERENCES plants (id) ON DELETE SET NULL,
    status             TEXT DEFAULT 'provisioning',
    firmware_version   TEXT,
    sensor_types       JSONB,
    last_seen_at       TIMESTAMPTZ,
    created_at         TIMESTAMPTZ DEFAULT now()
);

CREATE INDEX idx_devices_plant_id ON devices (plant_id);
CREATE INDEX idx_devices_status ON devices (status);
