-- Drops plants.
DROP TABLE plants;
