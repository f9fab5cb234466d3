-- Drops settings.
DROP TABLE settings;
