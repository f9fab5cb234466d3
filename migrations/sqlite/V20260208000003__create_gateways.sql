-- Creates gateways: the WebSocket gateways installed in a factory.
-- password_encrypted holds AES-256-GCM ciphertext (base64), never a plain password.
CREATE TABLE gateways (
    id                 TEXT NOT NULL PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    factory_id         TEXT NOT NULL REFERENCES factories (id) ON DELETE CASCADE,
    gateway_id         TEXT NOT NULL,
    name               TEXT NOT NULL,
    url                TEXT NOT NULL,
    email              TEXT NOT NULL,
    password_encrypted TEXT NOT NULL,
    model              TEXT,
    firmware_version   TEXT,
    last_seen_at       TEXT,
    metadata           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deleted_at         TEXT
);

CREATE INDEX gateways_factory_id_index ON gateways (factory_id);
-- Partial: a soft-deleted gateway frees its gateway_id for reuse.
CREATE UNIQUE INDEX gateways_gateway_id_unique_index ON gateways (gateway_id) WHERE deleted_at IS NULL;
CREATE INDEX gateways_deleted_at_index ON gateways (deleted_at) WHERE deleted_at IS NULL;
CREATE INDEX gateways_last_seen_at_index ON gateways (last_seen_at);

CREATE TRIGGER update_gateways_updated_at
    AFTER UPDATE ON gateways
    FOR EACH ROW
    WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE gateways SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
