-- Creates the garden's plants table: house plants and their sensor thresholds.
-- Text primary keys get an explicit NOT NULL: SQLite would otherwise accept NULL ids.
-- thresholds is nullable JSON: "IS NULL OR" because older SQLite versions
-- return 0 (not NULL) for json_valid(NULL).
CREATE TABLE plants (
    id         TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    species    TEXT,
    thresholds TEXT CHECK (thresholds IS NULL OR json_valid(thresholds)),
    created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
