-- Creates plant, scopes hierarchy and mqtt_broker to a plant, and assigns every
-- existing row to a new 'DEFAULT' plant.
-- settings is nullable JSON: "IS NULL OR" because older SQLite versions
-- return 0 (not NULL) for json_valid(NULL), which would reject NULL there.
CREATE TABLE plant (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    code       TEXT NOT NULL UNIQUE,
    is_active  INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    settings   TEXT CHECK (settings IS NULL OR json_valid(settings)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Nullable so existing rows can be added first and assigned below (SQLite also only
-- allows ADD COLUMN with a REFERENCES clause when the default is NULL).
-- Constraint names match the PostgreSQL ones (alembic's).
ALTER TABLE hierarchy
    ADD COLUMN plant_id INTEGER CONSTRAINT fk_hierarchy_plant REFERENCES plant (id) ON DELETE CASCADE;
ALTER TABLE mqtt_broker
    ADD COLUMN plant_id INTEGER CONSTRAINT fk_mqtt_broker_plant REFERENCES plant (id) ON DELETE CASCADE;

INSERT INTO plant (name, code, is_active, settings)
VALUES ('Default Plant', 'DEFAULT', 1, '{}');

UPDATE hierarchy SET plant_id = (SELECT id FROM plant WHERE code = 'DEFAULT');
UPDATE mqtt_broker SET plant_id = (SELECT id FROM plant WHERE code = 'DEFAULT');
