-- Creates the garden's plants table: house plants and their sensor thresholds.
CREATE TABLE plants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    species    TEXT,
    thresholds JSONB,
    created_at TIMESTAMPTZ DEFAULT now()
);
