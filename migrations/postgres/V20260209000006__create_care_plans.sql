-- Creates care_plans: at most one generated care plan per plant.
CREATE TABLE care_plans (
    id           SERIAL PRIMARY KEY,
    plant_id     TEXT UNIQUE REFERENCES plants (id) ON DELETE CASCADE,
    plan_data    JSONB NOT NULL,
    generated_at TIMESTAMPTZ DEFAULT now()
);
