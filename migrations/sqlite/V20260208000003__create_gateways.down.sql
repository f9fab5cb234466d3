-- Drops gateways (its indexes and trigger go with it).
DROP TABLE gateways;
