-- Creates plant, scopes hierarchy and mqtt_broker to a plant, and assigns every
-- existing row to a new 'DEFAULT' plant.
CREATE TABLE plant (
    id         SERIAL PRIMARY KEY,
    name       VARCHAR(100) NOT NULL UNIQUE,
    code       VARCHAR(10) NOT NULL UNIQUE,
    is_active  BOOLEAN NOT NULL DEFAULT true,
    settings   JSON,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Nullable so existing rows can be added first and assigned below.
-- Constraint names are the ones alembic gave them.
ALTER TABLE hierarchy
    ADD COLUMN plant_id INTEGER CONSTRAINT fk_hierarchy_plant REFERENCES plant (id) ON DELETE CASCADE;
ALTER TABLE mqtt_broker
    ADD COLUMN plant_id INTEGER CONSTRAINT fk_mqtt_broker_plant REFERENCES plant (id) ON DELETE CASCADE;

INSERT INTO plant (name, code, is_active, settings)
VALUES ('Default Plant', 'DEFAULT', true, '{}');

UPDATE hierarchy SET plant_id = (SELECT id FROM plant WHERE code = 'DEFAULT');
UPDATE mqtt_broker SET plant_id = (SELECT id FROM plant WHERE code = 'DEFAULT');
