-- Drops alerts (its index goes with it).
DROP TABLE alerts;
