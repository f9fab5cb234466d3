-- Drops care_plans.
DROP TABLE care_plans;
