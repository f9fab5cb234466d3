-- Creates factories: the sites of an organization.
CREATE TABLE factories (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            VARCHAR(255) NOT NULL,
    location        VARCHAR(500),
    timezone        VARCHAR(100) NOT NULL DEFAULT 'UTC',
    metadata        JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at      TIMESTAMPTZ
);

-- The foreign key column is indexed so cascading deletes from organizations stay fast.
CREATE INDEX factories_organization_id_index ON factories (organization_id);
CREATE INDEX factories_deleted_at_index ON factories (deleted_at) WHERE deleted_at IS NULL;
CREATE INDEX factories_name_index ON factories (name);

CREATE TRIGGER update_factories_updated_at
    BEFORE UPDATE ON factories
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
