-- Drops telemetry (its indexes go with it).
DROP TABLE telemetry;
