-- Creates the SPC core: the ISA-95 hierarchy, characteristics and their Nelson rules,
-- samples with their measurements, and rule violations.

-- ISA-95 levels (type): Enterprise, Site, Area, Line, Cell, Equipment.
CREATE TABLE hierarchy (
    id        SERIAL PRIMARY KEY,
    parent_id INTEGER REFERENCES hierarchy (id),
    name      VARCHAR(255) NOT NULL,
    type      VARCHAR(255) NOT NULL
);

-- provider_type is 'MANUAL' (operator entry) or 'TAG' (MQTT tag).
CREATE TABLE characteristic (
    id            SERIAL PRIMARY KEY,
    hierarchy_id  INTEGER NOT NULL REFERENCES hierarchy (id),
    name          VARCHAR(255) NOT NULL,
    description   TEXT,
    subgroup_size INTEGER NOT NULL,
    target_value  DOUBLE PRECISION,
    usl           DOUBLE PRECISION,
    lsl           DOUBLE PRECISION,
    ucl           DOUBLE PRECISION,
    lcl           DOUBLE PRECISION,
    provider_type VARCHAR(255) NOT NULL,
    mqtt_topic    VARCHAR(255),
    trigger_tag   VARCHAR(255)
);

CREATE TABLE characteristic_rules (
    char_id    INTEGER NOT NULL REFERENCES characteristic (id),
    rule_id    INTEGER NOT NULL,
    is_enabled BOOLEAN NOT NULL DEFAULT true,
    PRIMARY KEY (char_id, rule_id)
);

CREATE TABLE sample (
    id           SERIAL PRIMARY KEY,
    char_id      INTEGER NOT NULL REFERENCES characteristic (id),
    timestamp    TIMESTAMPTZ NOT NULL DEFAULT now(),
    batch_number VARCHAR(255),
    operator_id  VARCHAR(255),
    is_excluded  BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE measurement (
    id        SERIAL PRIMARY KEY,
    sample_id INTEGER NOT NULL REFERENCES sample (id),
    value     DOUBLE PRECISION NOT NULL
);

CREATE TABLE violation (
    id            SERIAL PRIMARY KEY,
    sample_id     INTEGER NOT NULL REFERENCES sample (id),
    rule_id       INTEGER NOT NULL,
    rule_name     VARCHAR(255),
    severity      VARCHAR(255) NOT NULL,
    acknowledged  BOOLEAN NOT NULL DEFAULT false,
    ack_user      VARCHAR(255),
    ack_reason    TEXT,
    ack_timestamp TIMESTAMPTZ
);

CREATE INDEX ix_characteristic_hierarchy_id ON characteristic (hierarchy_id);
CREATE INDEX ix_sample_char_id ON sample (char_id);
CREATE INDEX ix_sample_timestamp ON sample (timestamp);
CREATE INDEX ix_measurement_sample_id ON measurement (sample_id);
CREATE INDEX ix_violation_sample_id ON violation (sample_id);
CREATE INDEX ix_violation_acknowledged ON violation (acknowledged);
