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

/// The original chain after `008`, in order: 76 revisions (84 with the first eight), one head
/// `7eb49b0d3046`. None of them carries a plantdb migration, so for plantdb each one means
/// "everything up to add_plant is applied"; alembic stores only ids, never file names.
///
/// After `a3f7d2e91c45` three branches run to the merge `c7d8e9f0a1b2`, then two lines to the
/// merge `67ab89b939b3` ([`ALEMBIC_BRANCHES`]). The order within them is one topological order.
pub const ALEMBIC_LATER: &[&str] = &[
    "009",
    "010",
    "011",
    "012",
    "012b",
    "013",
    "014",
    "015",
    "016",
    "017",
    "018",
    "019",
    "020",
    "021",
    "022",
    "023",
    "024",
    "025",
    "026",
    "027",
    "028",
    "029",
    "030",
    "031",
    "032",
    "033",
    "034",
    "035",
    "036",
    "037",
    "038",
    "039",
    "040",
    "041",
    "042",
    "043",
    "044",
    "075fb3c0dee1",
    "1dcf6aaa092f",
    "b24419b54417",
    "cb165ffbd0cf",
    "045",
    "046",
    "047",
    "048",
    "049",
    "050",
    "051",
    "a856044d332f",
    "20260309_ondelete",
    "b06425200559",
    "8547e9ade3a7",
    "0b6b3b1fc440",
    "783a169959a5",
    "3460984785b1",
    "4a8c2d1e7f90",
    "cd2e2bdca7b9",
    "1edc269d9131",
    "42dd1ec340bf",
    "935bdc6c8e58",
    "a3f7d2e91c45",
    "b4c8f2a71d30",
    "b4c8f1a23d67",
    "f8e2a1b3c4d5",
    "c7d8e9f0a1b2",
    "d9e0f1a2b3c4",
    "e0f1a2b3c4d5",
    "c9d4e5f6a7b8",
    "d1e2f3a4b5c6",
    "67ab89b939b3",
    "d7c41149d5b1",
    "a1b2c3d4e5f6",
    "c5d6e7f8a9b0",
    "d6e7f8a9b0c1",
    "ad900b078566",
    "7eb49b0d3046",
];

/// The revisions between a branch point and its merge. Only there does `alembic_version` hold
/// several rows (one per head), and then all of them lie in the same stretch.
pub const ALEMBIC_BRANCHES: &[&[&str]] = &[
    &["b4c8f2a71d30", "b4c8f1a23d67", "f8e2a1b3c4d5"],
    &[
        "d9e0f1a2b3c4",
        "e0f1a2b3c4d5",
        "c9d4e5f6a7b8",
        "d1e2f3a4b5c6",
    ],
];

/// Today's chain, after the squash deleted all 84 files. `f5006ab282e0` creates the whole
/// current model at once, so every revision of it means "everything plantdb's SPC migrations
/// define should be there". No revision links the two eras.
pub const ALEMBIC_SQUASH: &[&str] = &[
    "f5006ab282e0",
    "a1b2c3d4e5f6",
    "b2c3d4e5f6a7",
    "c3d4e5f6a7b8",
];

/// Which history of the SPC app an alembic revision belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlembicEra {
    /// The 84-revision chain, up to and including `008` add_plant.
    OriginalUpToPlant,
    /// The 84-revision chain, after `008`.
    OriginalLater,
    /// The chain that starts at the squash `f5006ab282e0`.
    Squash,
}

/// Every reading of an alembic id: none when unknown, two for an id both eras use
/// (`a1b2c3d4e5f6`). With the position in [`ALEMBIC_CHAIN`] for the first era.
pub fn alembic_readings(id: &str) -> Vec<(AlembicEra, Option<usize>)> {
    let mut readings = Vec::new();
    if let Some(at) = ALEMBIC_CHAIN.iter().position(|(ids, _)| ids.contains(&id)) {
        readings.push((AlembicEra::OriginalUpToPlant, Some(at)));
    }
    if ALEMBIC_LATER.contains(&id) {
        readings.push((AlembicEra::OriginalLater, None));
    }
    if ALEMBIC_SQUASH.contains(&id) {
        readings.push((AlembicEra::Squash, None));
    }
    readings
}

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
            // Every built-in migration has exactly one entry.
            assert_eq!(set.migrations.len(), ENTRIES.len());
        }
    }

    #[test]
    fn the_original_chain_has_84_distinct_revisions_and_the_squash_shares_one_id() {
        let mut ids: Vec<&str> = ALEMBIC_CHAIN.iter().map(|(ids, _)| ids[0]).collect();
        ids.extend(ALEMBIC_LATER);
        let distinct: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!((ids.len(), distinct.len()), (84, 84));
        assert_eq!(ids.last(), Some(&"7eb49b0d3046"));
        let shared: Vec<&str> = ALEMBIC_SQUASH
            .iter()
            .copied()
            .filter(|id| distinct.contains(id))
            .collect();
        assert_eq!(shared, ["a1b2c3d4e5f6"]);
        assert_eq!(alembic_readings("a1b2c3d4e5f6").len(), 2);
        for branch in ALEMBIC_BRANCHES {
            assert!(branch.iter().all(|id| ALEMBIC_LATER.contains(id)));
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
