-- Drops factories (its indexes and trigger go with it).
DROP TABLE factories;
