-- Creates gateways: the WebSocket gateways installed in a factory.
-- password_encrypted holds AES-256-GCM ciphertext (base64), never a plain password.
CREATE TABLE gateways (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    factory_id         UUID NOT NULL REFERENCES factories (id) ON DELETE CASCADE,
    gateway_id         VARCHAR(255) NOT NULL,
    name               VARCHAR(255) NOT NULL,
    url                VARCHAR(500) NOT NULL,
    email              VARCHAR(255) NOT NULL,
    password_encrypted TEXT NOT NULL,
    model              VARCHAR(100),
    firmware_version   VARCHAR(50),
    last_seen_at       TIMESTAMPTZ,
    metadata           JSONB NOT NULL DEFAULT '{}',
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at         TIMESTAMPTZ
);

CREATE INDEX gateways_factory_id_index ON gateways (factory_id);
-- Partial: a soft-deleted gateway frees its gateway_id for reuse.
CREATE UNIQUE INDEX gateways_gateway_id_unique_index ON gateways (gateway_id) WHERE deleted_at IS NULL;
CREATE INDEX gateways_deleted_at_index ON gateways (deleted_at) WHERE deleted_at IS NULL;
CREATE INDEX gateways_last_seen_at_index ON gateways (last_seen_at);

CREATE TRIGGER update_gateways_updated_at
    BEFORE UPDATE ON gateways
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
