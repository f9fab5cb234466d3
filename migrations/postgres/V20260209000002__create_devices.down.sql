-- Drops devices (its indexes go with it).
DROP TABLE devices;
