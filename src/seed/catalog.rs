//! What the seed engine knows about a schema: each table's columns with the kind of value
//! they hold, their foreign keys, and the key a row is matched by on a re-run.
//!
//! A seed reads its [`Catalog`] from the live database (live_catalog.rs). What the schema
//! cannot say about the built-in tables is described here once, in [`TABLES`]: which text
//! columns hold timestamps, UUIDs or SPC configuration documents (SQLite declares them all
//! `TEXT`), the secret columns, the names fixtures use for some foreign keys, and the key a
//! table without a unique one is matched by. A test checks that the catalog read from a
//! freshly migrated database equals [`TABLES`].

use std::collections::HashMap;
use std::sync::OnceLock;

pub use crate::db::value::Kind;

/// How a table's primary key comes about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pk {
    /// SERIAL / INTEGER PRIMARY KEY: read back after insert.
    Identity(&'static str),
    /// A UUID derived from table and label (v5), so it is the same on every run.
    Uuid(&'static str),
    /// A text key the fixture gives; defaults to the row's label.
    Text(&'static str),
    /// No single-column key (composite primary key or none).
    None,
}

/// A plain fixture value a column takes in place of the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// Plain text in the fixture, AES-256-GCM ciphertext in the database.
    Encrypted,
    /// Plain text in the fixture, an Argon2id PHC hash in the database.
    Hashed,
}

/// A foreign key's `ON DELETE` rule, as the migrations declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// The default: the delete fails while the row still references it.
    NoAction,
    Restrict,
    /// The database deletes the referencing row too.
    Cascade,
    /// The database sets the referencing column to NULL.
    SetNull,
}

impl OnDelete {
    /// The rule as SQL spells it (and as schema introspection reports it).
    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::NoAction => "NO ACTION",
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
        }
    }

    /// Whether a delete of the referenced row fails while this row references it.
    pub fn blocks(self) -> bool {
        matches!(self, OnDelete::NoAction | OnDelete::Restrict)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    /// NOT NULL without a default: a fixture row must give it.
    pub required: bool,
    /// `Some(table)` for a foreign key, written in fixtures as the referenced row's label.
    pub references: Option<&'static str>,
    /// What the database does to this row when the referenced row is deleted (foreign keys).
    pub on_delete: OnDelete,
    /// The name a fixture uses for a foreign key or a secret (`organization`, `password`).
    pub alias: Option<&'static str>,
    pub secret: Option<Secret>,
    /// `VARCHAR(n)` on PostgreSQL: at most `n` characters. SQLite would store any length, so
    /// fixtures are held to PostgreSQL's limit on both.
    pub max_chars: Option<usize>,
}

/// The range of every integer column: all are `INTEGER` (32 bits) on PostgreSQL. SQLite would
/// store 64 bits, so fixtures are held to the narrower range on both (a test checks the types).
pub const INTEGER_RANGE: (i64, i64) = (i32::MIN as i64, i32::MAX as i64);

impl Column {
    /// This column as `VARCHAR(n)`.
    const fn chars(self, n: usize) -> Column {
        Column {
            max_chars: Some(n),
            ..self
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub pk: Pk,
    pub columns: &'static [Column],
    /// The columns a row is found by on a re-run (update instead of insert). Empty: the
    /// table is only ever replaced (telemetry).
    pub key: &'static [&'static str],
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column a fixture key names: the column itself, or its alias.
    pub fn fixture_column(&self, key: &str) -> Option<&'static Column> {
        self.columns
            .iter()
            .find(|c| c.alias == Some(key))
            .or_else(|| {
                self.columns
                    .iter()
                    .find(|c| c.name == key && c.secret.is_none())
            })
    }

    /// The names a fixture may use, for "unknown column" messages.
    pub fn fixture_names(&self) -> Vec<&'static str> {
        self.columns
            .iter()
            .filter(|c| !matches!(self.pk, Pk::Identity(pk) if pk == c.name))
            .map(|c| c.alias.unwrap_or(c.name))
            .collect()
    }

    pub fn pk_column(&self) -> Option<&'static str> {
        match self.pk {
            Pk::Identity(c) | Pk::Uuid(c) | Pk::Text(c) => Some(c),
            Pk::None => None,
        }
    }

    /// Tables this one references, other than itself.
    pub fn parents(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns
            .iter()
            .filter_map(|c| c.references)
            .filter(move |t| *t != self.name)
    }
}

const fn c(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        required: false,
        references: None,
        on_delete: OnDelete::NoAction,
        alias: None,
        secret: None,
        max_chars: None,
    }
}

const fn req(name: &'static str, kind: Kind) -> Column {
    Column {
        required: true,
        ..c(name, kind)
    }
}

const fn fk(
    name: &'static str,
    alias: &'static str,
    table: &'static str,
    kind: Kind,
    required: bool,
    on_delete: OnDelete,
) -> Column {
    Column {
        name,
        kind,
        required,
        references: Some(table),
        on_delete,
        alias: Some(alias),
        secret: None,
        max_chars: None,
    }
}

const fn secret(name: &'static str, alias: &'static str, secret: Secret) -> Column {
    Column {
        name,
        kind: Kind::Text,
        required: true,
        references: None,
        on_delete: OnDelete::NoAction,
        alias: Some(alias),
        secret: Some(secret),
        max_chars: None,
    }
}

use Kind::*;
use OnDelete::{Cascade, NoAction, SetNull};

pub static TABLES: &[Table] = &[
    // SPC
    Table {
        name: "plant",
        pk: Pk::Identity("id"),
        key: &["code"],
        columns: &[
            c("id", Int),
            req("name", Text).chars(100),
            req("code", Text).chars(10),
            c("is_active", Bool),
            c("settings", Json),
            c("created_at", Time),
            c("updated_at", Time),
        ],
    },
    Table {
        name: "hierarchy",
        pk: Pk::Identity("id"),
        key: &["plant_id", "parent_id", "name"],
        columns: &[
            c("id", Int),
            fk("parent_id", "parent", "hierarchy", Int, false, NoAction),
            req("name", Text).chars(255),
            req("type", Text).chars(255),
            fk("plant_id", "plant", "plant", Int, false, Cascade),
        ],
    },
    Table {
        name: "mqtt_broker",
        pk: Pk::Identity("id"),
        key: &["name"],
        columns: &[
            c("id", Int),
            req("name", Text).chars(100),
            req("host", Text).chars(255),
            c("port", Int),
            c("username", Text).chars(100),
            c("password", Text).chars(255),
            c("client_id", Text).chars(100),
            c("keepalive", Int),
            c("max_reconnect_delay", Int),
            c("use_tls", Bool),
            c("is_active", Bool),
            c("created_at", Time),
            c("updated_at", Time),
            fk("plant_id", "plant", "plant", Int, false, Cascade),
        ],
    },
    Table {
        name: "characteristic",
        pk: Pk::Identity("id"),
        key: &["hierarchy_id", "name"],
        columns: &[
            c("id", Int),
            fk(
                "hierarchy_id",
                "hierarchy",
                "hierarchy",
                Int,
                true,
                NoAction,
            ),
            req("name", Text).chars(255),
            c("description", Text),
            req("subgroup_size", Int),
            c("target_value", Float),
            c("usl", Float),
            c("lsl", Float),
            c("ucl", Float),
            c("lcl", Float),
            req("provider_type", Text).chars(255),
            c("mqtt_topic", Text).chars(255),
            c("trigger_tag", Text).chars(255),
        ],
    },
    Table {
        name: "characteristic_rules",
        pk: Pk::None,
        key: &["char_id", "rule_id"],
        columns: &[
            fk(
                "char_id",
                "characteristic",
                "characteristic",
                Int,
                true,
                NoAction,
            ),
            req("rule_id", Int),
            c("is_enabled", Bool),
        ],
    },
    Table {
        name: "characteristic_config",
        pk: Pk::Identity("id"),
        key: &["characteristic_id"],
        columns: &[
            c("id", Int),
            fk(
                "characteristic_id",
                "characteristic",
                "characteristic",
                Int,
                true,
                Cascade,
            ),
            req("config_json", JsonText),
            c("is_active", Bool),
            c("created_at", Time),
            c("updated_at", Time),
        ],
    },
    Table {
        name: "sample",
        pk: Pk::Identity("id"),
        key: &["char_id", "timestamp"],
        columns: &[
            c("id", Int),
            fk(
                "char_id",
                "characteristic",
                "characteristic",
                Int,
                true,
                NoAction,
            ),
            c("timestamp", Time),
            c("batch_number", Text).chars(255),
            c("operator_id", Text).chars(255),
            c("is_excluded", Bool),
        ],
    },
    Table {
        name: "measurement",
        pk: Pk::Identity("id"),
        key: &["sample_id", "value"],
        columns: &[
            c("id", Int),
            fk("sample_id", "sample", "sample", Int, true, NoAction),
            req("value", Float),
        ],
    },
    Table {
        name: "violation",
        pk: Pk::Identity("id"),
        key: &["sample_id", "rule_id"],
        columns: &[
            c("id", Int),
            fk("sample_id", "sample", "sample", Int, true, NoAction),
            req("rule_id", Int),
            c("rule_name", Text).chars(255),
            req("severity", Text).chars(255),
            c("acknowledged", Bool),
            c("ack_user", Text).chars(255),
            c("ack_reason", Text),
            c("ack_timestamp", Time),
        ],
    },
    // Fleet
    Table {
        name: "organizations",
        pk: Pk::Uuid("id"),
        key: &["id"],
        columns: &[
            c("id", Uuid),
            req("name", Text).chars(255),
            c("metadata", Json),
            c("created_at", Time),
            c("updated_at", Time),
            c("deleted_at", Time),
        ],
    },
    Table {
        name: "factories",
        pk: Pk::Uuid("id"),
        key: &["id"],
        columns: &[
            c("id", Uuid),
            fk(
                "organization_id",
                "organization",
                "organizations",
                Uuid,
                true,
                Cascade,
            ),
            req("name", Text).chars(255),
            c("location", Text).chars(500),
            c("timezone", Text).chars(100),
            c("metadata", Json),
            c("created_at", Time),
            c("updated_at", Time),
            c("deleted_at", Time),
        ],
    },
    Table {
        name: "gateways",
        pk: Pk::Uuid("id"),
        key: &["id"],
        columns: &[
            c("id", Uuid),
            fk("factory_id", "factory", "factories", Uuid, true, Cascade),
            req("gateway_id", Text).chars(255),
            req("name", Text).chars(255),
            req("url", Text).chars(500),
            req("email", Text).chars(255),
            secret("password_encrypted", "password", Secret::Encrypted),
            c("model", Text).chars(100),
            c("firmware_version", Text).chars(50),
            c("last_seen_at", Time),
            c("metadata", Json),
            c("created_at", Time),
            c("updated_at", Time),
            c("deleted_at", Time),
        ],
    },
    // Garden
    Table {
        name: "plants",
        pk: Pk::Text("id"),
        key: &["id"],
        columns: &[
            c("id", Text),
            req("name", Text),
            c("species", Text),
            c("thresholds", Json),
            c("created_at", Time),
        ],
    },
    Table {
        name: "devices",
        pk: Pk::Text("id"),
        key: &["id"],
        columns: &[
            c("id", Text),
            c("mac_address", Text),
            c("mqtt_username", Text),
            secret("mqtt_password_hash", "mqtt_password", Secret::Hashed),
            fk("plant_id", "plant", "plants", Text, false, SetNull),
            c("status", Text),
            c("firmware_version", Text),
            c("sensor_types", Json),
            c("last_seen_at", Time),
            c("created_at", Time),
        ],
    },
    Table {
        name: "telemetry",
        pk: Pk::None,
        key: &[],
        columns: &[
            req("time", Time),
            fk("device_id", "device", "devices", Text, false, Cascade),
            fk("plant_id", "plant", "plants", Text, false, SetNull),
            c("soil_moisture", Float),
            c("temperature", Float),
            c("humidity", Float),
            c("light_level", Float),
        ],
    },
    Table {
        name: "alerts",
        pk: Pk::Identity("id"),
        key: &["device_id", "metric", "direction", "value"],
        columns: &[
            c("id", Int),
            fk("plant_id", "plant", "plants", Text, false, Cascade),
            fk("device_id", "device", "devices", Text, false, Cascade),
            req("metric", Text),
            req("value", Float),
            req("threshold", Float),
            req("direction", Text),
            c("sent_at", Time),
        ],
    },
    Table {
        name: "settings",
        pk: Pk::Text("key"),
        key: &["key"],
        columns: &[c("key", Text), req("value", Text), c("updated_at", Time)],
    },
    Table {
        name: "care_plans",
        pk: Pk::Identity("id"),
        key: &["plant_id"],
        columns: &[
            c("id", Int),
            fk("plant_id", "plant", "plants", Text, false, Cascade),
            req("plan_data", Json),
            c("generated_at", Time),
        ],
    },
];

/// A unique key other than the one a table's rows are matched by: upsert finds a row by it
/// too, so a row another tool wrote (with its own id) is updated instead of duplicated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaturalKey {
    pub columns: Vec<&'static str>,
    /// A partial unique index (`… WHERE deleted_at IS NULL`) holds only the rows where these
    /// columns are NULL.
    pub where_null: Vec<&'static str>,
}

/// The tables a seed can write, with their unique keys.
#[derive(Debug)]
pub struct Catalog {
    tables: Vec<&'static Table>,
    natural_keys: HashMap<&'static str, Vec<NaturalKey>>,
}

impl Catalog {
    pub fn new(
        tables: Vec<&'static Table>,
        natural_keys: HashMap<&'static str, Vec<NaturalKey>>,
    ) -> Catalog {
        Catalog {
            tables,
            natural_keys,
        }
    }

    /// The built-in tables as [`TABLES`] describes them, without natural keys: what fixtures
    /// are checked against before a database is at hand.
    pub fn built_in() -> &'static Catalog {
        static BUILT_IN: OnceLock<Catalog> = OnceLock::new();
        BUILT_IN.get_or_init(|| Catalog::new(TABLES.iter().collect(), HashMap::new()))
    }

    pub fn table(&self, name: &str) -> Option<&'static Table> {
        self.tables.iter().copied().find(|t| t.name == name)
    }

    pub fn tables(&self) -> &[&'static Table] {
        &self.tables
    }

    pub fn natural_keys(&self, table: &str) -> &[NaturalKey] {
        self.natural_keys.get(table).map_or(&[], Vec::as_slice)
    }

    /// Every table in an order where each comes after the tables it references. Tables in a
    /// foreign-key cycle (which a live schema may hold) come last, in catalog order.
    pub fn parent_first(&self) -> Vec<&'static Table> {
        let mut done: Vec<&'static Table> = Vec::new();
        while done.len() < self.tables.len() {
            let before = done.len();
            for table in &self.tables {
                if done.iter().any(|d| d.name == table.name) {
                    continue;
                }
                if table.parents().all(|p| done.iter().any(|d| d.name == p)) {
                    done.push(table);
                }
            }
            if done.len() == before {
                let rest: Vec<&'static Table> = self
                    .tables
                    .iter()
                    .copied()
                    .filter(|t| !done.iter().any(|d| d.name == t.name))
                    .collect();
                done.extend(rest);
            }
        }
        done
    }
}

/// A built-in table, as [`TABLES`] describes it.
pub fn table(name: &str) -> Option<&'static Table> {
    Catalog::built_in().table(name)
}

/// The built-in tables, parents first.
pub fn parent_first() -> Vec<&'static Table> {
    Catalog::built_in().parent_first()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_first_orders_every_table_after_its_parents() {
        let order = parent_first();
        assert_eq!(order.len(), TABLES.len(), "catalog has a foreign-key cycle");
        for (i, table) in order.iter().enumerate() {
            for parent in table.parents() {
                let at = order.iter().position(|t| t.name == parent).unwrap();
                assert!(at < i, "{} before its parent {parent}", table.name);
            }
        }
    }

    #[test]
    fn every_reference_and_key_names_a_known_column_or_table() {
        for t in TABLES {
            for col in t.columns {
                if let Some(r) = col.references {
                    assert!(table(r).is_some(), "{}.{} -> {r}", t.name, col.name);
                }
            }
            for k in t.key {
                assert!(t.column(k).is_some(), "{}: key {k}", t.name);
            }
        }
    }
}
