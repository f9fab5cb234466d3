//! Where migrations come from: the sets embedded in the binary (build.rs embeds every file of
//! `migrations/`) or a `--migrations` directory. Both go through `assemble`, which names files,
//! pairs up and down, reads directives and checksums.

use std::collections::BTreeMap;
use std::path::Path;

use crate::db::Dialect;
use crate::error::{Error, Result, Version};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_files.rs"));
}

// Defined beside the checks whose messages point at a directive; read here too.
pub use super::atomicity::DIRECTIVE_PLACE;

/// One SQL file of a migration.
#[derive(Debug, Clone)]
pub struct Script {
    /// Path shown in messages, e.g. `migrations/sqlite/V20260207000000__add_plant.down.sql`.
    pub file: String,
    pub sql: String,
    /// False when the script's leading comment block holds `-- plantdb:no-transaction`.
    pub transactional: bool,
    /// `-- plantdb:foreign-keys-off`: SQLite turns foreign keys off around the script and runs
    /// `PRAGMA foreign_key_check` before committing (the documented way to rebuild a table).
    pub foreign_keys_off: bool,
}

#[derive(Debug, Clone)]
pub struct Migration {
    pub version: Version,
    pub name: String,
    pub up: Script,
    pub down: Option<Script>,
    /// refinery's checksum of the up script (line endings normalised), as 16 hex digits.
    pub checksum: String,
}

#[derive(Debug, Clone)]
pub struct MigrationSet {
    pub dialect: Dialect,
    /// "built-in" or the directory the set was read from.
    pub origin: String,
    /// Sorted by version, versions unique.
    pub migrations: Vec<Migration>,
}

impl MigrationSet {
    /// The built-in set, or the one in `dir` when given.
    pub fn load(dir: Option<&Path>, dialect: Dialect) -> Result<MigrationSet> {
        match dir {
            Some(dir) => MigrationSet::from_dir(dir, dialect),
            None => MigrationSet::built_in(dialect),
        }
    }

    pub fn built_in(dialect: Dialect) -> Result<MigrationSet> {
        // Read from the strings build.rs embedded: starting a run costs no file-name regex
        // nor a second copy of the set (this is on the path of every command).
        let folder = dialect.dir_name();
        let mut files = Vec::new();
        for (relative, sql, checksum) in embedded::FILES {
            let Some((dir, name)) = relative.rsplit_once('/') else {
                return Err(Error::MigrationSource {
                    file: format!("migrations/{relative}"),
                    reason: "files belong in migrations/postgres/ or migrations/sqlite/".into(),
                });
            };
            if !dir
                .split('/')
                .next()
                .is_some_and(|top| top == "postgres" || top == "sqlite")
            {
                return Err(Error::MigrationSource {
                    file: format!("migrations/{relative}"),
                    reason: "files belong in migrations/postgres/ or migrations/sqlite/".into(),
                });
            }
            if !relative.starts_with(&format!("{folder}/")) {
                continue;
            }
            // A file that is not SQL is rejected by `assemble`, by its name.
            files.push(RawFile {
                name: name.to_string(),
                sql: sql.unwrap_or_default().to_string(),
                checksum: *checksum,
            });
        }
        // The built-in scripts were checked for transaction control when they were written
        // (`built_in_scripts_hold_no_transaction_control` keeps it so): lexing them again on
        // every start would cost more than a whole SQLite run's statements take to parse.
        assemble_from(
            dialect,
            "built-in",
            &format!("migrations/{folder}"),
            files,
            TransactionControl::CheckedAtBuild,
        )
    }

    /// Reads `dir/postgres` or `dir/sqlite` when that folder exists, else `dir` itself.
    pub fn from_dir(dir: &Path, dialect: Dialect) -> Result<MigrationSet> {
        let dialect_dir = dir.join(dialect.dir_name());
        let dir = if dialect_dir.is_dir() {
            dialect_dir
        } else {
            dir.to_path_buf()
        };
        let shown = dir.display().to_string();
        let unreadable = |source: std::io::Error| Error::MigrationDir {
            dir: shown.clone(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(unreadable)? {
            let entry = entry.map_err(unreadable)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || entry.path().is_dir() {
                continue;
            }
            let sql = std::fs::read_to_string(entry.path()).map_err(|e| Error::Io {
                path: entry.path().display().to_string(),
                source: e,
            })?;
            files.push(RawFile {
                name,
                sql,
                checksum: None,
            });
        }
        assemble(dialect, &shown, &shown, files)
    }

    pub fn get(&self, version: Version) -> Option<&Migration> {
        self.migrations
            .binary_search_by_key(&version, |m| m.version)
            .ok()
            .map(|i| &self.migrations[i])
    }

    /// The migrations not in `applied`, in version order.
    pub fn pending<'a>(
        &'a self,
        applied: &'a [crate::db::AppliedMigration],
    ) -> impl Iterator<Item = &'a Migration> + 'a {
        self.migrations
            .iter()
            .filter(|m| !applied.iter().any(|a| a.version == m.version))
    }

    pub fn latest_version(&self) -> Option<Version> {
        self.migrations.last().map(|m| m.version)
    }
}

struct RawFile {
    name: String,
    sql: String,
    /// refinery's checksum, when build.rs computed it already (the built-in up scripts).
    checksum: Option<u64>,
}

enum Kind {
    Up,
    Down,
}

/// Splits `V{version}__{name}.sql` / `.down.sql`; `None` when the name is not of that form.
fn parse_file_name(file_name: &str) -> Option<(Version, String, Kind)> {
    let (stem, kind) = if let Some(stem) = file_name.strip_suffix(".down.sql") {
        (stem, Kind::Down)
    } else {
        (file_name.strip_suffix(".sql")?, Kind::Up)
    };
    let (version, name) = stem.strip_prefix('V')?.split_once("__")?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) || !is_snake_case(name) {
        return None;
    }
    Some((version.parse().ok()?, name.to_string(), kind))
}

pub fn is_snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

/// Whether scripts are looked through for statements that would end plantdb's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransactionControl {
    Check,
    /// The built-in set, whose scripts a test checks.
    CheckedAtBuild,
}

fn assemble(
    dialect: Dialect,
    origin: &str,
    shown_dir: &str,
    files: Vec<RawFile>,
) -> Result<MigrationSet> {
    assemble_from(dialect, origin, shown_dir, files, TransactionControl::Check)
}

fn assemble_from(
    dialect: Dialect,
    origin: &str,
    shown_dir: &str,
    files: Vec<RawFile>,
    transaction_control: TransactionControl,
) -> Result<MigrationSet> {
    let mut ups: BTreeMap<Version, (String, Script)> = BTreeMap::new();
    let mut downs: BTreeMap<Version, (String, Script)> = BTreeMap::new();
    let mut checksums: BTreeMap<Version, String> = BTreeMap::new();
    for file in files {
        let shown = format!("{shown_dir}/{}", file.name);
        let Some((version, name, kind)) = parse_file_name(&file.name) else {
            return Err(Error::MigrationSource {
                file: shown,
                reason: "not a migration file name: expected V{version}__{snake_case_name}.sql or V{version}__{snake_case_name}.down.sql".into(),
            });
        };
        if version == 0 {
            return Err(Error::MigrationSource {
                file: shown,
                reason: "version 0: versions start at 1 (`migrate down --to 0` means \"revert everything\")".into(),
            });
        }
        let script = script(dialect, shown.clone(), &file.sql, transaction_control)?;
        if let Kind::Up = kind {
            let checksum = match file.checksum {
                Some(checksum) => checksum,
                None => {
                    checksum(&file.name, &file.sql).map_err(|reason| Error::MigrationSource {
                        file: shown.clone(),
                        reason,
                    })?
                }
            };
            checksums.insert(version, format!("{checksum:016x}"));
        }
        let slot = match kind {
            Kind::Up => &mut ups,
            Kind::Down => &mut downs,
        };
        if let Some((_, other)) = slot.insert(version, (name, script)) {
            return Err(Error::MigrationSource {
                file: shown,
                reason: format!("version {version} is also used by `{}`", other.file),
            });
        }
    }
    let mut migrations = Vec::with_capacity(ups.len());
    for (version, (name, up)) in ups {
        let down = match downs.remove(&version) {
            Some((down_name, down)) if down_name != name => {
                return Err(Error::MigrationSource {
                    file: down.file,
                    reason: format!("its name differs from its up script `{}`", up.file),
                });
            }
            Some((_, down)) => Some(down),
            None => None,
        };
        let checksum = checksums.remove(&version).unwrap_or_default();
        migrations.push(Migration {
            version,
            name,
            up,
            down,
            checksum,
        });
    }
    if let Some((_, (_, orphan))) = downs.into_iter().next() {
        return Err(Error::MigrationSource {
            file: orphan.file,
            reason: "a down script without an up script".into(),
        });
    }
    Ok(MigrationSet {
        dialect,
        origin: origin.to_string(),
        migrations,
    })
}

fn script(
    dialect: Dialect,
    file: String,
    sql: &str,
    transaction_control: TransactionControl,
) -> Result<Script> {
    let mut script = Script {
        file,
        sql: sql.to_string(),
        transactional: true,
        foreign_keys_off: false,
    };
    // Directives are read in the leading comment block (DIRECTIVE_PLACE): the lines before
    // the first one that is neither blank nor a `--` comment.
    for (index, line) in sql.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix("--") else {
            break;
        };
        let Some(directive) = comment.trim().strip_prefix("plantdb:") else {
            continue;
        };
        match directive.trim() {
            "no-transaction" => script.transactional = false,
            "foreign-keys-off" => script.foreign_keys_off = true,
            other => {
                return Err(Error::MigrationSource {
                    file: format!("{}:{}", script.file, index + 1),
                    reason: format!(
                        "unknown directive `plantdb:{other}` (known: no-transaction, foreign-keys-off)"
                    ),
                });
            }
        }
    }
    // A script in plantdb's transaction must not end it, nor hold what cannot run in one.
    if script.transactional
        && transaction_control == TransactionControl::Check
        && let Some(found) = super::atomicity::first_breach(sql, dialect)
    {
        return Err(Error::MigrationSource {
            file: format!("{}:{}:{}", script.file, found.line, found.column),
            reason: found.explain(),
        });
    }
    Ok(script)
}

/// refinery's checksum of an up script (over its name, version and SQL), with CRLF normalised
/// so a checkout on Windows does not look like drift. The built-in scripts' checksums are
/// computed by build.rs; this is for `--migrations` directories.
fn checksum(file_name: &str, sql: &str) -> std::result::Result<u64, String> {
    let stem = file_name.strip_suffix(".sql").unwrap_or(file_name);
    refinery::Migration::unapplied(stem, &sql.replace("\r\n", "\n"))
        .map(|migration| migration.checksum())
        .map_err(|e| format!("refinery cannot read it: {e}"))
}

/// Every file embedded from `migrations/`, as paths relative to it (for tests and `verify`).
pub fn embedded_file_names() -> impl Iterator<Item = &'static str> {
    embedded::FILES.iter().map(|(path, _, _)| *path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str, sql: &str) -> RawFile {
        RawFile {
            name: name.into(),
            sql: sql.into(),
            checksum: None,
        }
    }

    fn set(files: Vec<RawFile>) -> Result<MigrationSet> {
        assemble(Dialect::Sqlite, "test", "m", files)
    }

    #[test]
    fn sorts_by_version_not_by_file_name() {
        let set = set(vec![
            raw("V10__ten.sql", "SELECT 10;"),
            raw("V9__nine.sql", "SELECT 9;"),
            raw("V100__hundred.sql", "SELECT 100;"),
        ])
        .unwrap();
        let versions: Vec<_> = set.migrations.iter().map(|m| m.version).collect();
        assert_eq!(versions, vec![9, 10, 100]);
    }

    #[test]
    fn pairs_down_scripts() {
        let set = set(vec![
            raw("V1__a.sql", "CREATE TABLE a (x);"),
            raw("V1__a.down.sql", "DROP TABLE a;"),
            raw("V2__b.sql", "CREATE TABLE b (x);"),
        ])
        .unwrap();
        assert_eq!(
            set.migrations[0].down.as_ref().unwrap().sql,
            "DROP TABLE a;"
        );
        assert!(set.migrations[1].down.is_none());
    }

    #[test]
    fn rejects_duplicate_versions_naming_both_files() {
        let err = set(vec![raw("V1__a.sql", ""), raw("V1__b.sql", "")]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("V1__a.sql") && text.contains("V1__b.sql"),
            "{text}"
        );
    }

    #[test]
    fn rejects_misnamed_files() {
        for name in [
            "V1_missing_underscore.sql",
            "1__no_prefix.sql",
            "V1__CamelCase.sql",
            "U1__unversioned.sql",
            "V1__a.rs",
            "notes.txt",
            "V1__a.up.sql",
        ] {
            let err = set(vec![raw(name, "")]).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn rejects_orphan_and_misnamed_down_scripts() {
        assert!(set(vec![raw("V2__b.down.sql", "")]).is_err());
        assert!(set(vec![raw("V2__b.sql", ""), raw("V2__c.down.sql", "")]).is_err());
    }

    #[test]
    fn reads_directives_from_the_leading_comments() {
        let set = set(vec![
            raw("V1__a.sql", "-- plantdb:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);"),
            raw(
                "V1__a.down.sql",
                "-- Rebuilds t.\n-- plantdb:foreign-keys-off\n\nDROP TABLE t;\n-- plantdb:no-transaction\n",
            ),
        ])
        .unwrap();
        let m = &set.migrations[0];
        assert!(!m.up.transactional);
        let down = m.down.as_ref().unwrap();
        assert!(down.foreign_keys_off);
        // Only the leading comment block holds directives.
        assert!(down.transactional);
    }

    /// The README and the messages that point at a directive say where it is read, and that is
    /// where the loader reads it.
    #[test]
    fn directives_are_read_where_the_readme_and_the_messages_say() {
        let one_line = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let readme = one_line(include_str!("../../README.md"));
        assert!(
            readme.contains(&format!("Directives are read {DIRECTIVE_PLACE}")),
            "README.md must say where directives are read: {DIRECTIVE_PLACE}"
        );
        for (sql, dialect) in [
            ("CREATE INDEX CONCURRENTLY i ON t (x);", Dialect::Postgres),
            ("BEGIN;\nCOMMIT;", Dialect::Postgres),
            ("PRAGMA foreign_keys = OFF;", Dialect::Sqlite),
        ] {
            let found = super::super::atomicity::first_breach(sql, dialect).unwrap();
            assert!(
                found.explain().contains(DIRECTIVE_PLACE),
                "{}",
                found.explain()
            );
        }

        let transactional = |sql: &str| {
            script(
                Dialect::Postgres,
                "f.sql".into(),
                sql,
                TransactionControl::Check,
            )
            .map(|s| s.transactional)
        };
        let index = "CREATE INDEX CONCURRENTLY i ON t (x);\n";
        // The first line, or any line of the opening comments, blank lines between them.
        for header in [
            "-- plantdb:no-transaction\n",
            "-- Adds an index.\n--\n-- plantdb:no-transaction\n",
            "-- Adds an index.\n\n   -- plantdb:no-transaction\n\n",
        ] {
            assert_eq!(
                transactional(&format!("{header}{index}")).ok(),
                Some(false),
                "{header:?}"
            );
        }
        // After the first statement or a block comment: an ordinary comment.
        for text in [
            "SELECT 1;\n-- plantdb:no-transaction\n",
            "/* header */\n-- plantdb:no-transaction\n",
        ] {
            assert_eq!(transactional(text).ok(), Some(true), "{text:?}");
        }
    }

    #[test]
    fn unknown_directive_names_file_and_line() {
        let err = set(vec![raw(
            "V1__a.sql",
            "-- header\n-- plantdb:no-transactoin\n",
        )])
        .unwrap_err();
        assert!(err.to_string().contains("m/V1__a.sql:2"), "{err}");
    }

    #[test]
    fn version_zero_is_refused_naming_the_file() {
        for name in ["V0__zero.sql", "V000__zero.down.sql"] {
            let err = set(vec![raw(name, "SELECT 1;")]).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(&format!("m/{name}")), "{text}");
            assert!(text.contains("versions start at 1"), "{text}");
        }
        assert!(set(vec![raw("V1__one.sql", "SELECT 1;")]).is_ok());
    }

    #[test]
    fn transaction_control_is_refused_at_load_with_file_line_and_the_directive() {
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            let err = assemble(
                dialect,
                "test",
                "m",
                vec![raw(
                    "V1__a.sql",
                    "-- header\nCREATE TABLE a (id int);\n  COMMIT;\nCREATE TABLE b (id int);\nSELECT 1/0;\n",
                )],
            )
            .unwrap_err();
            let text = err.to_string();
            assert!(text.contains("m/V1__a.sql:3:3"), "{dialect:?}: {text}");
            assert!(text.contains("`COMMIT`"), "{text}");
            assert!(text.contains("-- plantdb:no-transaction"), "{text}");
            // The same script may manage its own transactions when it says so.
            assemble(
                dialect,
                "test",
                "m",
                vec![raw(
                    "V1__a.sql",
                    "-- plantdb:no-transaction\nBEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n",
                )],
            )
            .unwrap();
        }
        // Down scripts are checked too, and PostgreSQL refuses what cannot run in a transaction.
        let err = assemble(
            Dialect::Postgres,
            "test",
            "m",
            vec![
                raw("V1__a.sql", "CREATE TABLE a (id int);"),
                raw(
                    "V1__a.down.sql",
                    "DROP INDEX CONCURRENTLY i;\nDROP TABLE a;",
                ),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("m/V1__a.down.sql:1:1"), "{err}");
    }

    #[test]
    fn checksum_ignores_line_endings_but_not_content() {
        let a = checksum("V1__a.sql", "SELECT 1;\nSELECT 2;\n").unwrap();
        let b = checksum("V1__a.sql", "SELECT 1;\r\nSELECT 2;\r\n").unwrap();
        let c = checksum("V1__a.sql", "SELECT 1;\nSELECT 3;\n").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// The built-in set skips this check when it loads; the scripts must pass it all the same.
    #[test]
    fn built_in_scripts_hold_no_transaction_control() {
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            for m in MigrationSet::built_in(dialect).unwrap().migrations {
                for script in std::iter::once(&m.up).chain(m.down.as_ref()) {
                    if script.transactional {
                        let found = crate::migrate::atomicity::first_breach(&script.sql, dialect);
                        assert!(
                            found.is_none(),
                            "{}: {:?}",
                            script.file,
                            found.map(|f| f.explain())
                        );
                    }
                }
            }
        }
    }

    /// Databases already hold checksums refinery computed: every built-in migration must
    /// get the very same one, and a fixed example pins the value across versions.
    #[test]
    fn checksums_are_refinerys() {
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            for m in MigrationSet::built_in(dialect).unwrap().migrations {
                let theirs = refinery::Migration::unapplied(
                    &format!("V{}__{}", m.version, m.name),
                    &m.up.sql.replace("\r\n", "\n"),
                )
                .unwrap();
                assert_eq!(
                    m.checksum,
                    format!("{:016x}", theirs.checksum()),
                    "{}",
                    m.up.file
                );
            }
        }
        let theirs =
            refinery::Migration::unapplied("V20260101000000__it_s", "SELECT 'x';\n").unwrap();
        assert_eq!(
            checksum("V20260101000000__it_s.sql", "SELECT 'x';\r\n").unwrap(),
            theirs.checksum()
        );
    }

    #[test]
    fn built_in_sets_have_the_same_versions_and_names_for_both_dialects() {
        let pg = MigrationSet::built_in(Dialect::Postgres).unwrap();
        let lite = MigrationSet::built_in(Dialect::Sqlite).unwrap();
        let ids = |s: &MigrationSet| -> Vec<(Version, String)> {
            s.migrations
                .iter()
                .map(|m| (m.version, m.name.clone()))
                .collect()
        };
        assert_eq!(ids(&pg), ids(&lite));
        assert_eq!(pg.migrations.len(), 17);
        assert!(pg.migrations.iter().all(|m| m.down.is_some()));
        assert!(lite.migrations.iter().all(|m| m.down.is_some()));
    }

    #[test]
    fn every_embedded_file_is_accounted_for() {
        let pg = MigrationSet::built_in(Dialect::Postgres).unwrap();
        let lite = MigrationSet::built_in(Dialect::Sqlite).unwrap();
        let mut known = std::collections::BTreeSet::new();
        for set in [&pg, &lite] {
            for m in &set.migrations {
                known.insert(m.up.file.trim_start_matches("migrations/").to_string());
                if let Some(down) = &m.down {
                    known.insert(down.file.trim_start_matches("migrations/").to_string());
                }
            }
        }
        let embedded: std::collections::BTreeSet<String> =
            embedded_file_names().map(str::to_string).collect();
        assert_eq!(known, embedded);
        // And the embedded list is the directory as it is on disk.
        let mut on_disk = std::collections::BTreeSet::new();
        for dialect in ["postgres", "sqlite"] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dialect);
            for entry in std::fs::read_dir(dir).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                on_disk.insert(format!("{dialect}/{name}"));
            }
        }
        assert_eq!(on_disk, embedded);
    }
}
