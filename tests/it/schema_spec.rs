//! The schema of SCHEMA.md written down once, as facts to check a migrated database against.
//! Nullability, keys, ON DELETE actions, uniques, indexes and triggers come from the document;
//! where it is silent (sizes, some timestamps' NOT NULL) the facts follow the history the
//! migrations replace (alembic, node-pg-migrate, the asyncpg runner).

use std::collections::{BTreeMap, BTreeSet};

use plantdb::schema::{CanonicalType, Schema};

/// Table name, then one line per fact:
/// `col NAME TYPE [null] [pk] [-> TABLE.COL [cascade|set-null]] [default VALUE]`,
/// `unique COLS`, `index NAME COLS [unique] [where PREDICATE]`, `trigger NAME`.
/// Columns are listed in table order.
pub const SPEC: &str = r#"
table hierarchy
  col id integer pk
  col parent_id integer null -> hierarchy.id
  col name text
  col type text
  col plant_id integer null -> plant.id cascade
table characteristic
  col id integer pk
  col hierarchy_id integer -> hierarchy.id
  col name text
  col description text null
  col subgroup_size integer
  col target_value real null
  col usl real null
  col lsl real null
  col ucl real null
  col lcl real null
  col provider_type text
  col mqtt_topic text null
  col trigger_tag text null
  index ix_characteristic_hierarchy_id hierarchy_id
table characteristic_rules
  col char_id integer pk -> characteristic.id
  col rule_id integer pk
  col is_enabled boolean
table sample
  col id integer pk
  col char_id integer -> characteristic.id
  col timestamp text
  col batch_number text null
  col operator_id text null
  col is_excluded boolean
  index ix_sample_char_id char_id
  index ix_sample_timestamp timestamp
table measurement
  col id integer pk
  col sample_id integer -> sample.id
  col value real
  index ix_measurement_sample_id sample_id
table violation
  col id integer pk
  col sample_id integer -> sample.id
  col rule_id integer
  col rule_name text null
  col severity text
  col acknowledged boolean
  col ack_user text null
  col ack_reason text null
  col ack_timestamp text null
  index ix_violation_sample_id sample_id
  index ix_violation_acknowledged acknowledged
table mqtt_broker
  col id integer pk
  col name text
  col host text
  col port integer default 1883
  col username text null
  col password text null
  col client_id text default 'openspc-client'
  col keepalive integer default 60
  col max_reconnect_delay integer default 300
  col use_tls boolean default false
  col is_active boolean default true
  col created_at text default now
  col updated_at text default now
  col plant_id integer null -> plant.id cascade
  unique name
table characteristic_config
  col id integer pk
  col characteristic_id integer -> characteristic.id cascade
  col config_json text
  col is_active boolean default true
  col created_at text default now
  col updated_at text default now
  unique characteristic_id
  index ix_characteristic_config_characteristic_id characteristic_id
table plant
  col id integer pk
  col name text
  col code text
  col is_active boolean default true
  col settings json null
  col created_at text default now
  col updated_at text default now
  unique name
  unique code
table organizations
  col id text pk default uuid
  col name text
  col metadata json default '{}'
  col created_at text default now
  col updated_at text default now
  col deleted_at text null
  index organizations_deleted_at_index deleted_at where deleted_at is null
  index organizations_name_index name
  trigger update_organizations_updated_at
table factories
  col id text pk default uuid
  col organization_id text -> organizations.id cascade
  col name text
  col location text null
  col timezone text default 'UTC'
  col metadata json default '{}'
  col created_at text default now
  col updated_at text default now
  col deleted_at text null
  index factories_organization_id_index organization_id
  index factories_deleted_at_index deleted_at where deleted_at is null
  index factories_name_index name
  trigger update_factories_updated_at
table gateways
  col id text pk default uuid
  col factory_id text -> factories.id cascade
  col gateway_id text
  col name text
  col url text
  col email text
  col password_encrypted text
  col model text null
  col firmware_version text null
  col last_seen_at text null
  col metadata json default '{}'
  col created_at text default now
  col updated_at text default now
  col deleted_at text null
  index gateways_factory_id_index factory_id
  index gateways_gateway_id_unique_index gateway_id unique where deleted_at is null
  index gateways_deleted_at_index deleted_at where deleted_at is null
  index gateways_last_seen_at_index last_seen_at
  trigger update_gateways_updated_at
table plants
  col id text pk
  col name text
  col species text null
  col thresholds json null
  col created_at text null default now
table devices
  col id text pk
  col mac_address text null
  col mqtt_username text null
  col mqtt_password_hash text
  col plant_id text null -> plants.id set-null
  col status text null default 'provisioning'
  col firmware_version text null
  col sensor_types json null
  col last_seen_at text null
  col created_at text null default now
  unique mac_address
  unique mqtt_username
  index idx_devices_plant_id plant_id
  index idx_devices_status status
table telemetry
  col time text
  col device_id text null -> devices.id cascade
  col plant_id text null -> plants.id set-null
  col soil_moisture real null
  col temperature real null
  col humidity real null
  col light_level real null
  index idx_telemetry_device device_id,time-desc
  index idx_telemetry_plant plant_id,time-desc
table alerts
  col id integer pk
  col plant_id text null -> plants.id cascade
  col device_id text null -> devices.id cascade
  col metric text
  col value real
  col threshold real
  col direction text
  col sent_at text null default now
  index idx_alerts_plant plant_id,sent_at-desc
table settings
  col key text pk
  col value text
  col updated_at text null default now
table care_plans
  col id integer pk
  col plant_id text null -> plants.id cascade
  col plan_data json
  col generated_at text null default now
  unique plant_id
"#;

/// Checks `schema` against the spec; returns every difference (empty when it matches).
pub fn check(schema: &Schema) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expected_tables = BTreeSet::new();
    for (table, lines) in tables() {
        expected_tables.insert(table.clone());
        let Some(actual) = schema.tables.get(&table) else {
            problems.push(format!("table `{table}` is missing"));
            continue;
        };
        let mut columns = Vec::new();
        let mut pk = Vec::new();
        let mut fks = BTreeSet::new();
        let mut uniques = BTreeSet::new();
        let mut indexes = BTreeMap::new();
        let mut triggers = BTreeSet::new();
        for line in lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[0] {
                "col" => {
                    let name = words[1].to_string();
                    let ty = match words[2] {
                        "integer" => CanonicalType::Integer,
                        "real" => CanonicalType::Real,
                        "text" => CanonicalType::Text,
                        "boolean" => CanonicalType::Boolean,
                        "json" => CanonicalType::Json,
                        other => panic!("spec: unknown type {other}"),
                    };
                    let rest = &words[3..];
                    let is_pk = rest.contains(&"pk");
                    if is_pk {
                        pk.push(name.clone());
                    }
                    let not_null = !rest.contains(&"null");
                    let default = rest
                        .iter()
                        .position(|w| *w == "default")
                        .map(|i| rest[i + 1].to_string());
                    if let Some(i) = rest.iter().position(|w| *w == "->") {
                        let (ref_table, ref_col) =
                            rest[i + 1].split_once('.').expect("spec: table.column");
                        let on_delete = match rest.get(i + 2) {
                            Some(&"cascade") => "CASCADE",
                            Some(&"set-null") => "SET NULL",
                            _ => "NO ACTION",
                        };
                        fks.insert((
                            vec![name.clone()],
                            ref_table.to_string(),
                            vec![ref_col.to_string()],
                            on_delete.to_string(),
                        ));
                    }
                    columns.push((name, ty, not_null, default));
                }
                "unique" => {
                    uniques.insert(words[1].split(',').map(str::to_string).collect::<Vec<_>>());
                }
                "index" => {
                    let cols: Vec<String> = words[2]
                        .split(',')
                        .map(|c| c.replace("-desc", " DESC"))
                        .collect();
                    let unique = words.contains(&"unique");
                    let predicate = words
                        .iter()
                        .position(|w| *w == "where")
                        .map(|i| words[i + 1..].join(" "));
                    indexes.insert(words[1].to_string(), (cols, unique, predicate));
                }
                "trigger" => {
                    triggers.insert(words[1].to_string());
                }
                other => panic!("spec: unknown line kind {other}"),
            }
        }
        let actual_columns: Vec<_> = actual
            .columns
            .iter()
            .map(|c| {
                let default = if c.name == "id" && c.default.is_none() {
                    None
                } else {
                    c.default.clone()
                };
                (c.name.clone(), c.ty.clone(), c.not_null, default)
            })
            .collect();
        for (i, expected) in columns.iter().enumerate() {
            match actual_columns.get(i) {
                Some(found) if found.0 != expected.0 => problems.push(format!(
                    "`{table}` column {i}: expected `{}`, found `{}`",
                    expected.0, found.0
                )),
                Some(found) => {
                    if found.1 != expected.1 {
                        problems.push(format!(
                            "`{table}.{}`: type {}, expected {}",
                            expected.0, found.1, expected.1
                        ));
                    }
                    if found.2 != expected.2 {
                        problems.push(format!(
                            "`{table}.{}`: not null is {}, expected {}",
                            expected.0, found.2, expected.2
                        ));
                    }
                    // Defaults are checked where the spec names one.
                    if expected.3.is_some() && found.3 != expected.3 {
                        problems.push(format!(
                            "`{table}.{}`: default {:?}, expected {:?}",
                            expected.0, found.3, expected.3
                        ));
                    }
                }
                None => problems.push(format!("`{table}.{}` is missing", expected.0)),
            }
        }
        if actual_columns.len() != columns.len() {
            problems.push(format!(
                "`{table}` has {} columns, expected {}",
                actual_columns.len(),
                columns.len()
            ));
        }
        if actual.primary_key != pk {
            problems.push(format!(
                "`{table}` primary key {:?}, expected {pk:?}",
                actual.primary_key
            ));
        }
        let actual_fks: BTreeSet<_> = actual
            .foreign_keys
            .iter()
            .map(|fk| {
                (
                    fk.columns.clone(),
                    fk.ref_table.clone(),
                    fk.ref_columns.clone(),
                    fk.on_delete.clone(),
                )
            })
            .collect();
        if actual_fks != fks {
            problems.push(format!(
                "`{table}` foreign keys {actual_fks:?}, expected {fks:?}"
            ));
        }
        if actual.uniques != uniques {
            problems.push(format!(
                "`{table}` unique constraints {:?}, expected {uniques:?}",
                actual.uniques
            ));
        }
        let actual_indexes: BTreeMap<_, _> = actual
            .indexes
            .iter()
            .map(|(name, ix)| {
                (
                    name.clone(),
                    (ix.columns.clone(), ix.unique, ix.predicate.clone()),
                )
            })
            .collect();
        if actual_indexes != indexes {
            problems.push(format!(
                "`{table}` indexes {actual_indexes:?}, expected {indexes:?}"
            ));
        }
        if actual.triggers != triggers {
            problems.push(format!(
                "`{table}` triggers {:?}, expected {triggers:?}",
                actual.triggers
            ));
        }
    }
    for table in schema.tables.keys() {
        if !expected_tables.contains(table) && table != "plantdb_migrations" {
            problems.push(format!("unexpected table `{table}`"));
        }
    }
    problems
}

fn tables() -> Vec<(String, Vec<String>)> {
    let mut tables: Vec<(String, Vec<String>)> = Vec::new();
    for line in SPEC.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(name) = line.strip_prefix("table ") {
            tables.push((name.to_string(), Vec::new()));
        } else if let Some((_, lines)) = tables.last_mut() {
            lines.push(line.to_string());
        }
    }
    tables
}
