-- Drops characteristic_config (its index goes with it).
DROP TABLE characteristic_config;
