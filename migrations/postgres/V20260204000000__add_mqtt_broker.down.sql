-- Drops mqtt_broker.
DROP TABLE mqtt_broker;
