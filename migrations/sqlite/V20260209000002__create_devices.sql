-- Creates devices: the garden's sensor devices and their MQTT credentials.
-- mqtt_password_hash is a salted hash; a device outlives the plant it watched (SET NULL).
-- sensor_types is nullable JSON (see plants.thresholds for the IS NULL OR).
CREATE TABLE devices (
    id                 TEXT NOT NULL PRIMARY KEY,
    mac_address        TEXT UNIQUE,
    mqtt_username      TEXT UNIQUE,
    mqtt_password_hash TEXT NOT NULL,
    plant_id           TEXT REFERENCES plants (id) ON DELETE SET NULL,
    status             TEXT DEFAULT 'provisioning',
    firmware_version   TEXT,
    sensor_types       TEXT CHECK (sensor_types IS NULL OR json_valid(sensor_types)),
    last_seen_at       TEXT,
    created_at         TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX idx_devices_plant_id ON devices (plant_id);
CREATE INDEX idx_devices_status ON devices (status);
