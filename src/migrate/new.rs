//! `plantdb migrate new NAME`: the up and down files of a new migration, for both dialects.

use std::path::{Path, PathBuf};

use super::source::{MigrationSet, is_snake_case};
use crate::db::Dialect;
use crate::error::{Error, Result, Version};

#[derive(Debug, Clone, serde::Serialize)]
pub struct NewReport {
    pub version: Version,
    pub name: String,
    /// The files created, up and down for PostgreSQL, then for SQLite.
    pub files: Vec<String>,
}

/// The version for a migration created at `now` (UTC, as `YYYYMMDDHHMMSS`): the current time,
/// or one more than the newest existing version when that is not older (two migrations created
/// in the same second, or a clock behind the existing files).
pub fn next_version(now: Version, existing_latest: Option<Version>) -> Version {
    match existing_latest {
        Some(latest) if latest >= now => latest + 1,
        _ => now,
    }
}

pub(crate) fn now_version() -> Version {
    chrono::Utc::now()
        .format("%Y%m%d%H%M%S")
        .to_string()
        .parse()
        .unwrap_or(0)
}

/// The existing migrations of one dialect folder; none when the folder does not exist yet.
fn existing(dir: &Path, dialect: Dialect) -> Result<Option<MigrationSet>> {
    if !dir.join(dialect.dir_name()).is_dir() {
        return Ok(None);
    }
    MigrationSet::from_dir(dir, dialect).map(Some)
}

fn header(dialect: Dialect, down: bool, file: &str, twin: &str) -> String {
    let engine = match dialect {
        Dialect::Postgres => "PostgreSQL",
        Dialect::Sqlite => "SQLite",
    };
    let body = if down {
        "-- Down: undo exactly what the up script does, so that up, down, up leaves the same\n\
         -- schema (`plantdb verify` checks this). Keep every row of tables that stay: rebuild a\n\
         -- table rather than drop data. Leave it out only if the change cannot be undone; then\n\
         -- delete this file and `migrate down` will refuse before changing anything."
    } else {
        "-- Up: make the change. It runs in one transaction together with its history row; to run\n\
         -- outside one (e.g. CREATE INDEX CONCURRENTLY) add the line `-- plantdb:no-transaction`\n\
         -- to this comment block, before the first statement. Never edit this file once it has\n\
         -- been applied anywhere: plantdb compares checksums and stops on a changed file."
    };
    let sqlite_note = match (dialect, down) {
        (Dialect::Sqlite, true) => {
            "\n-- SQLite cannot drop a column that carries a foreign key: rebuild the table, with the\n\
             -- line `-- plantdb:foreign-keys-off` added to this comment block."
        }
        (Dialect::Postgres, false) => {
            "\n-- On a Citus cluster plantdb sets plantdb.citus to 'on': a table this script creates is\n\
             -- distributed here, in the same transaction (see README, Citus), e.g.\n\
             -- DO $$ BEGIN IF current_setting('plantdb.citus', true) = 'on' THEN\n\
             --     PERFORM create_distributed_table('readings', 'device_id', colocate_with => 'devices');\n\
             -- END IF; END $$;"
        }
        _ => "",
    };
    format!(
        "-- {file} ({engine}, {direction})\n{body}{sqlite_note}\n\
         -- It must describe the same schema as {twin}.\n\n",
        direction = if down { "down" } else { "up" },
    )
}

/// Creates the four files of migration `name` under `dir` (`dir/postgres`, `dir/sqlite`).
/// Writes all of them or, on any failure, none.
pub fn create(dir: &Path, name: &str) -> Result<NewReport> {
    create_at(dir, name, now_version())
}

pub fn create_at(dir: &Path, name: &str, now: Version) -> Result<NewReport> {
    let refuse = |reason: String| Error::NewMigration {
        name: name.to_string(),
        reason,
    };
    if !is_snake_case(name) {
        return Err(refuse(
            "names are snake_case: lowercase letters, digits and single underscores, starting with a letter (e.g. `add_widget_table`)".into(),
        ));
    }
    let mut latest = None;
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        if let Some(set) = existing(dir, dialect)? {
            if let Some(taken) = set.migrations.iter().find(|m| m.name == name) {
                return Err(refuse(format!("the name is taken by `{}`", taken.up.file)));
            }
            latest = latest.max(set.latest_version());
        }
    }
    let version = next_version(now, latest);
    let mut planned: Vec<(PathBuf, String)> = Vec::new();
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        let other = match dialect {
            Dialect::Postgres => Dialect::Sqlite,
            Dialect::Sqlite => Dialect::Postgres,
        };
        for down in [false, true] {
            let suffix = if down { ".down.sql" } else { ".sql" };
            let file_name = format!("V{version}__{name}{suffix}");
            let path = dir.join(dialect.dir_name()).join(&file_name);
            let twin = format!("{}/{file_name}", other.dir_name());
            let text = header(
                dialect,
                down,
                &format!("{}/{file_name}", dialect.dir_name()),
                &twin,
            );
            planned.push((path, text));
        }
    }
    let mut written: Vec<PathBuf> = Vec::new();
    let outcome = planned.iter().try_for_each(|(path, text)| {
        write_new(path, text)?;
        written.push(path.clone());
        Ok(())
    });
    if let Err(e) = outcome {
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    Ok(NewReport {
        version,
        name: name.to_string(),
        files: planned
            .iter()
            .map(|(path, _)| path.display().to_string())
            .collect(),
    })
}

/// Writes a file that must not exist yet.
fn write_new(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let io = |e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        source: e,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_now_or_one_past_the_newest() {
        assert_eq!(next_version(20261122010203, None), 20261122010203);
        assert_eq!(
            next_version(20261122010203, Some(20260209000006)),
            20261122010203
        );
        assert_eq!(
            next_version(20261122010203, Some(20261122010203)),
            20261122010204
        );
        assert_eq!(
            next_version(20261122010203, Some(20270101000000)),
            20270101000001
        );
    }

    #[test]
    fn created_files_form_a_valid_set_with_no_directive_surprises() {
        let dir = tempfile::tempdir().unwrap();
        let report = create_at(dir.path(), "add_widgets", 20261122010203).unwrap();
        assert_eq!(report.files.len(), 4);
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            let set = MigrationSet::from_dir(dir.path(), dialect).unwrap();
            let m = &set.migrations[0];
            assert_eq!(
                (m.version, m.name.as_str()),
                (20261122010203, "add_widgets")
            );
            assert!(m.up.transactional && !m.up.foreign_keys_off);
            let down = m.down.as_ref().unwrap();
            assert!(down.transactional && !down.foreign_keys_off);
        }
    }

    /// The header says to add a directive to its comment block; done so, it is honoured.
    #[test]
    fn a_directive_added_to_the_header_comments_is_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let report = create_at(dir.path(), "add_index", 20261122010203).unwrap();
        let up = dir.path().join(&report.files[0]);
        let header = std::fs::read_to_string(&up).unwrap();
        assert!(
            header.contains("add the line `-- plantdb:no-transaction`\n-- to this comment block"),
            "{header}"
        );
        std::fs::write(
            &up,
            format!("{header}-- plantdb:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\n"),
        )
        .unwrap();
        let set = MigrationSet::from_dir(dir.path(), Dialect::Postgres).unwrap();
        assert!(!set.migrations[0].up.transactional);
    }
}
