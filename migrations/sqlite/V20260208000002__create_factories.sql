-- Creates factories: the sites of an organization.
CREATE TABLE factories (
    id              TEXT NOT NULL PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    location        TEXT,
    timezone        TEXT NOT NULL DEFAULT 'UTC',
    metadata        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deleted_at      TEXT
);

-- The foreign key column is indexed so cascading deletes from organizations stay fast.
CREATE INDEX factories_organization_id_index ON factories (organization_id);
CREATE INDEX factories_deleted_at_index ON factories (deleted_at) WHERE deleted_at IS NULL;
CREATE INDEX factories_name_index ON factories (name);

CREATE TRIGGER update_factories_updated_at
    AFTER UPDATE ON factories
    FOR EACH ROW
    WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE factories SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
