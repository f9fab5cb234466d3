-- Creates characteristic_config: one ManualConfig or TagConfig JSON document per characteristic.
-- config_json is plain text (validated by the application), as the alembic history created it.
CREATE TABLE characteristic_config (
    id                SERIAL PRIMARY KEY,
    characteristic_id INTEGER NOT NULL UNIQUE REFERENCES characteristic (id) ON DELETE CASCADE,
    config_json       TEXT NOT NULL,
    is_active         BOOLEAN NOT NULL DEFAULT true,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Redundant with the UNIQUE constraint, but alembic created it and adopted databases have it.
CREATE INDEX ix_characteristic_config_characteristic_id ON characteristic_config (characteristic_id);
