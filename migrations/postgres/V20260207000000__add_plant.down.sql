-- Removes plant scoping: drops the plant_id columns (their foreign keys go with them)
-- and the plant table; all other rows, constraints and indexes stay.
ALTER TABLE mqtt_broker DROP COLUMN plant_id;
ALTER TABLE hierarchy DROP COLUMN plant_id;
DROP TABLE plant;
