-- Creates alerts: threshold violations sent for a plant's readings.
CREATE TABLE alerts (
    id        SERIAL PRIMARY KEY,
    plant_id  TEXT REFERENCES plants (id) ON DELETE CASCADE,
    device_id TEXT REFERENCES devices (id) ON DELETE CASCADE,
    metric    TEXT NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    direction TEXT NOT NULL,
    sent_at   TIMESTAMPTZ DEFAULT now()
);

CREATE INDEX idx_alerts_plant ON alerts (plant_id, sent_at DESC);
