-- Drops the SPC core tables (their indexes go with them), children before parents.
DROP TABLE violation;
DROP TABLE measurement;
DROP TABLE sample;
DROP TABLE characteristic_rules;
DROP TABLE characteristic;
DROP TABLE hierarchy;
