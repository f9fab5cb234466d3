-- Creates care_plans: at most one generated care plan per plant.
CREATE TABLE care_plans (
    id           INTEGER PRIMARY KEY,
    plant_id     TEXT UNIQUE REFERENCES plants (id) ON DELETE CASCADE,
    plan_data    TEXT NOT NULL CHECK (json_valid(plan_data)),
    generated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
