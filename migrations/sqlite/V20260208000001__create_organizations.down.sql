-- Drops organizations (its indexes and trigger go with it).
DROP TABLE organizations;
