-- telemetry_hourly: per device and hour (UTC), the min, max, avg and count of each reading;
-- an ordinary view with the columns of PostgreSQL's, so application queries work everywhere.
CREATE VIEW telemetry_hourly AS
SELECT device_id,
       strftime('%Y-%m-%dT%H:00:00Z', time) AS bucket,
       min(soil_moisture) AS soil_moisture_min, max(soil_moisture) AS soil_moisture_max,
       avg(soil_moisture) AS soil_moisture_avg, count(soil_moisture) AS soil_moisture_count,
       min(temperature) AS temperature_min, max(temperature) AS temperature_max,
       avg(temperature) AS temperature_avg, count(temperature) AS temperature_count,
       min(humidity) AS humidity_min, max(humidity) AS humidity_max,
       avg(humidity) AS humidity_avg, count(humidity) AS humidity_count,
       min(light_level) AS light_level_min, max(light_level) AS light_level_max,
       avg(light_level) AS light_level_avg, count(light_level) AS light_level_count
FROM telemetry
GROUP BY device_id, strftime('%Y-%m-%dT%H:00:00Z', time);
