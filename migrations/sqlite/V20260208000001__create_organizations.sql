-- Creates the fleet's organizations table and its trigger keeping updated_at current
-- (SQLite has no shared trigger functions, so each fleet table gets its own trigger).
CREATE TABLE organizations (
    id         TEXT NOT NULL PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    name       TEXT NOT NULL,
    metadata   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deleted_at TEXT
);

-- Soft delete: active rows are those with deleted_at IS NULL.
CREATE INDEX organizations_deleted_at_index ON organizations (deleted_at) WHERE deleted_at IS NULL;
CREATE INDEX organizations_name_index ON organizations (name);

-- AFTER UPDATE rewrite; the WHEN keeps an explicitly set updated_at and stops the
-- trigger's own UPDATE from firing it again.
CREATE TRIGGER update_organizations_updated_at
    AFTER UPDATE ON organizations
    FOR EACH ROW
    WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE organizations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
