//! Which built-in migration corresponds to which migration of the tools the three applications
//! used before plantdb, and what each one leaves in the database. `migrate adopt` reads it;
//! the README's "Switching from …" section explains the choices, and a unit test checks every
//! entry against the built-in migrations.
//!
//! It lives in Rust rather than in a file under `migrations/`, because every file there must be
//! a migration (build.rs and the embedding refuse anything else).

use crate::error::Version;

/// The tool whose history `migrate adopt` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// alembic (SPC): `alembic_version` keeps only the head revision.
    Alembic,
    /// node-pg-migrate (fleet): one `pgmigrations` row per migration file.
    NodePgMigrate,
    /// The garden app's asyncpg runner: `schema_migrations` rows `001` … `006`.
    #[value(alias = "asyncpg")]
    SchemaMigrations,
}

impl Source {
    /// The other tool's history table.
    pub fn table(self) -> &'static str {
        match self {
            Source::Alembic => "alembic_version",
            Source::NodePgMigrate => "pgmigrations",
            Source::SchemaMigrations => "schema_migrations",
        }
    }

    /// The query that lists the other tool's applied ids, oldest first where it knows.
    pub fn history_query(self) -> &'static str {
        match self {
            Source::Alembic => "SELECT CAST(version_num AS TEXT) FROM alembic_version",
            Source::NodePgMigrate => "SELECT CAST(name AS TEXT) FROM pgmigrations ORDER BY id",
            Source::SchemaMigrations => {
                "SELECT CAST(version AS TEXT) FROM schema_migrations ORDER BY version"
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Alembic => "alembic",
            Source::NodePgMigrate => "node-pg-migrate",
            Source::SchemaMigrations => "schema-migrations",
        }
    }
}

/// One built-in migration and what the old tool called it.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub version: Version,
    pub name: &'static str,
    pub source: Source,
    /// The ids the old tool recorded for it (for alembic: the revision at which it is complete;
    /// the order comes from [`ALEMBIC_CHAIN`]).
    pub foreign_ids: &'static [&'static str],
    /// Tables it creates: adopt records it only when they all exist.
    pub tables: &'static [&'static str],
    /// Columns it adds to tables created earlier, as (table, column).
    pub columns: &'static [(&'static str, &'static str)],
}

/// The SPC app's alembic revisions in chain order, each with every id it is known by, and the
/// built-in migration that is complete once that revision is applied (`None`: a revision whose
/// changes are not part of plantdb's schema, such as `add_sample_edit_history`).
///
/// The documents fix `007` = add_characteristic_config with parent `006`; the others are
/// plantdb's decision (see the README). Since alembic stores only the head, everything up to the
/// head's position counts as applied.
pub const ALEMBIC_CHAIN: &[(&[&str], Option<Version>)] = &[
    (&["001"], Some(20260202000000)),
    (&["002"], None),
    (&["003"], None),
    (&["004", "20260204_add_mqtt_broker"], Some(20260204000000)),
    (&["005"], None),
    (&["006", "20260205_add_sample_edit_history"], None),
    (
        &["007", "20260206_add_characteristic_config"],
        Some(20260206000000),
    ),
    (&["008", "20260207_add_plant"], Some(20260207000000)),
];

pub const ENTRIES: &[Entry] = &[
    Entry {
        version: 20260202000000,
        name: "spc_initial_schema",
        source: Source::Alembic,
        foreign_ids: &["001"],
        tables: &[
            "hierarchy",
            "characteristic",
            "characteristic_rules",
            "sample",
            "measurement",
            "violation",
        ],
        columns: &[],
    },
    Entry {
        version: 20260204000000,
        name: "add_mqtt_broker",
        source: Source::Alembic,
        foreign_ids: &["004", "20260204_add_mqtt_broker"],
        tables: &["mqtt_broker"],
        columns: &[],
    },
    Entry {
        version: 20260206000000,
        name: "add_characteristic_config",
        source: Source::Alembic,
        foreign_ids: &["007", "20260206_add_characteristic_config"],
        tables: &["characteristic_config"],
        columns: &[],
    },
    Entry {
        version: 20260207000000,
        name: "add_plant",
        source: Source::Alembic,
        foreign_ids: &["008", "20260207_add_plant"],
        tables: &["plant"],
        columns: &[("hierarchy", "plant_id"), ("mqtt_broker", "plant_id")],
    },
    Entry {
        version: 20260208000001,
        name: "create_organizations",
        source: Source::NodePgMigrate,
        foreign_ids: &["1707345600001_create-organizations"],
        tables: &["organizations"],
        columns: &[],
    },
    Entry {
        version: 20260208000002,
        name: "create_factories",
        source: Source::NodePgMigrate,
        foreign_ids: &["1707345600002_create-factories"],
        tables: &["factories"],
        columns: &[],
    },
    Entry {
        version: 20260208000003,
        name: "create_gateways",
        source: Source::NodePgMigrate,
        foreign_ids: &["1707345600003_create-gateways"],
        tables: &["gateways"],
        columns: &[],
    },
    Entry {
        version: 20260209000001,
        name: "create_plants",
        source: Source::SchemaMigrations,
        foreign_ids: &["001", "001_create_plants"],
        tables: &["plants"],
        columns: &[],
    },
    Entry {
        version: 20260209000002,
        name: "create_devices",
        source: Source::SchemaMigrations,
        foreign_ids: &["002", "002_create_devices"],
        tables: &["devices"],
        columns: &[],
    },
    Entry {
        version: 20260209000003,
        name: "create_telemetry",
        source: Source::SchemaMigrations,
        foreign_ids: &["003", "003_create_telemetry"],
        tables: &["telemetry"],
        columns: &[],
    },
    Entry {
        version: 20260209000004,
        name: "create_alerts",
        source: Source::SchemaMigrations,
        foreign_ids: &["004", "004_create_alerts"],
        tables: &["alerts"],
        columns: &[],
    },
    Entry {
        version: 20260209000005,
        name: "create_settings",
        source: Source::SchemaMigrations,
        foreign_ids: &["005", "005_create_settings"],
        tables: &["settings"],
        columns: &[],
    },
    Entry {
        version: 20260209000006,
        name: "create_care_plans",
        source: Source::SchemaMigrations,
        foreign_ids: &["006", "006_create_care_plans"],
        tables: &["care_plans"],
        columns: &[],
    },
];

/// The entries of one source, oldest first.
pub fn entries(source: Source) -> impl Iterator<Item = &'static Entry> {
    ENTRIES.iter().filter(move |e| e.source == source)
}

pub fn entry(version: Version) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Dialect;
    use crate::migrate::MigrationSet;

    #[test]
    fn every_entry_names_a_built_in_migration_of_both_dialects() {
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            let set = MigrationSet::built_in(dialect).unwrap();
            for entry in ENTRIES {
                let migration = set
                    .get(entry.version)
                    .unwrap_or_else(|| panic!("{} {} is not built in", entry.version, entry.name));
                assert_eq!(migration.name, entry.name);
                // The tables it claims to create appear in its up script.
                for table in entry.tables {
                    assert!(
                        migration.up.sql.contains(&format!("CREATE TABLE {table} ")),
                        "{}: {table}",
                        migration.up.file
                    );
                }
            }
            // Every built-in migration the old tools knew of (up to the last entry) has
            // exactly one entry; later ones are plantdb's own.
            let last = ENTRIES.iter().map(|e| e.version).max().unwrap();
            let known = set.migrations.iter().filter(|m| m.version <= last).count();
            assert_eq!(known, ENTRIES.len());
        }
    }

    #[test]
    fn alembic_chain_agrees_with_the_entries() {
        let chained: Vec<Version> = ALEMBIC_CHAIN.iter().filter_map(|(_, v)| *v).collect();
        let entries: Vec<Version> = entries(Source::Alembic).map(|e| e.version).collect();
        assert_eq!(chained, entries);
        for (ids, version) in ALEMBIC_CHAIN {
            if let Some(version) = version {
                let entry = entry(*version).unwrap();
                assert_eq!(entry.foreign_ids, *ids);
            }
        }
    }
}
