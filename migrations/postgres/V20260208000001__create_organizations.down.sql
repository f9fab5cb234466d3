-- Drops organizations (its indexes and trigger go with it), then the shared
-- updated_at trigger function, which no table uses any more.
DROP TABLE organizations;
DROP FUNCTION update_updated_at_column();
