-- Creates characteristic_config: one ManualConfig or TagConfig JSON document per characteristic.
-- config_json is plain text (validated by the application), as the alembic history created it.
CREATE TABLE characteristic_config (
    id                INTEGER PRIMARY KEY,
    characteristic_id INTEGER NOT NULL UNIQUE REFERENCES characteristic (id) ON DELETE CASCADE,
    config_json       TEXT NOT NULL,
    is_active         INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Redundant with the UNIQUE constraint, but kept identical to the PostgreSQL schema
-- (alembic created it there).
CREATE INDEX ix_characteristic_config_characteristic_id ON characteristic_config (characteristic_id);
