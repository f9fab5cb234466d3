-- Citus distributes PostgreSQL tables: on SQLite this migration is a recorded no-op, kept so
-- both dialects have the same versions.
SELECT 1;
