-- Creates the SPC core: the ISA-95 hierarchy, characteristics and their Nelson rules,
-- samples with their measurements, and rule violations.

-- ISA-95 levels (type): Enterprise, Site, Area, Line, Cell, Equipment.
CREATE TABLE hierarchy (
    id        INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES hierarchy (id),
    name      TEXT NOT NULL,
    type      TEXT NOT NULL
);

-- provider_type is 'MANUAL' (operator entry) or 'TAG' (MQTT tag).
CREATE TABLE characteristic (
    id            INTEGER PRIMARY KEY,
    hierarchy_id  INTEGER NOT NULL REFERENCES hierarchy (id),
    name          TEXT NOT NULL,
    description   TEXT,
    subgroup_size INTEGER NOT NULL,
    target_value  REAL,
    usl           REAL,
    lsl           REAL,
    ucl           REAL,
    lcl           REAL,
    provider_type TEXT NOT NULL,
    mqtt_topic    TEXT,
    trigger_tag   TEXT
);

-- SQLite lets primary key columns other than INTEGER PRIMARY KEY hold NULL,
-- so NOT NULL is spelled out (PostgreSQL implies it).
CREATE TABLE characteristic_rules (
    char_id    INTEGER NOT NULL REFERENCES characteristic (id),
    rule_id    INTEGER NOT NULL,
    is_enabled INTEGER NOT NULL DEFAULT 1 CHECK (is_enabled IN (0, 1)),
    PRIMARY KEY (char_id, rule_id)
);

CREATE TABLE sample (
    id           INTEGER PRIMARY KEY,
    char_id      INTEGER NOT NULL REFERENCES characteristic (id),
    timestamp    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    batch_number TEXT,
    operator_id  TEXT,
    is_excluded  INTEGER NOT NULL DEFAULT 0 CHECK (is_excluded IN (0, 1))
);

CREATE TABLE measurement (
    id        INTEGER PRIMARY KEY,
    sample_id INTEGER NOT NULL REFERENCES sample (id),
    value     REAL NOT NULL
);

CREATE TABLE violation (
    id            INTEGER PRIMARY KEY,
    sample_id     INTEGER NOT NULL REFERENCES sample (id),
    rule_id       INTEGER NOT NULL,
    rule_name     TEXT,
    severity      TEXT NOT NULL,
    acknowledged  INTEGER NOT NULL DEFAULT 0 CHECK (acknowledged IN (0, 1)),
    ack_user      TEXT,
    ack_reason    TEXT,
    ack_timestamp TEXT
);

CREATE INDEX ix_characteristic_hierarchy_id ON characteristic (hierarchy_id);
CREATE INDEX ix_sample_char_id ON sample (char_id);
CREATE INDEX ix_sample_timestamp ON sample (timestamp);
CREATE INDEX ix_measurement_sample_id ON measurement (sample_id);
CREATE INDEX ix_violation_sample_id ON violation (sample_id);
CREATE INDEX ix_violation_acknowledged ON violation (acknowledged);
