//! What plantdb prints when something is off: control characters from the database never
//! reach the terminal raw, and errors say what is wrong and where.

use std::path::Path;

use assert_cmd::Command;
use plantdb::db::HISTORY_TABLE;

use crate::migrate::MIGRATIONS;
use crate::migrate::up_all;
use crate::support::{TestDb, each_dialect};

/// `plantdb` in `dir`, with the database given by `url` and nothing else configured.
fn plantdb(dir: &Path, url: &str) -> Command {
    let mut cmd = Command::cargo_bin("plantdb").expect("the binary");
    cmd.current_dir(dir)
        .env_remove("PLANTDB_TIMESCALE")
        .env_remove("PLANTDB_SECRET_KEY")
        .env("DATABASE_URL", url)
        .timeout(std::time::Duration::from_secs(60));
    cmd
}

/// Runs SQL on a test database.
fn execute(db: &TestDb, sql: &str) {
    match db {
        TestDb::Postgres(pg) => pg.client().batch_execute(sql).expect("execute"),
        TestDb::Sqlite(file) => file.connection().execute_batch(sql).expect("execute"),
    }
}

/// Exit code, stdout and stderr of a run.
fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let output = cmd.output().expect("run plantdb");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn control_characters_in_history_names_are_escaped_in_text_output() {
    each_dialect(|db| {
        up_all(&db.url());
        // A history row of a migration this binary does not know, whose name would colour the
        // terminal red and print a fake line.
        let name = "evil\x1b[31m\nFAKE  applied 20990101000000";
        let (sql_name, checksum) = match &db {
            TestDb::Postgres(_) => (
                "E'evil\\x1b[31m\\nFAKE  applied 20990101000000'",
                "E'c\\x1b[2J'",
            ),
            TestDb::Sqlite(_) => (
                "'evil' || char(27) || '[31m' || char(10) || 'FAKE  applied 20990101000000'",
                "'c' || char(27) || '[2J'",
            ),
        };
        execute(
            &db,
            &format!(
                "INSERT INTO {HISTORY_TABLE} (version, name, checksum) \
                 VALUES (20990101000000, {sql_name}, {checksum})"
            ),
        );
        let escaped = "evil\\x1b[31m\\nFAKE  applied 20990101000000";
        let dir = tempfile::tempdir().expect("dir");
        for args in [&["status"][..], &["migrate", "up"], &["migrate", "down"]] {
            let (code, stdout, stderr) = run(plantdb(dir.path(), &db.url()).args(args));
            let all = format!("{stdout}{stderr}");
            let context = format!("{} {args:?}:\n{all}", db.dialect_name());
            assert!(
                !all.contains('\x1b'),
                "a raw ESC reached the terminal: {context}"
            );
            assert!(
                !all.lines().any(|line| line.starts_with("FAKE")),
                "a fake line: {context}"
            );
            assert!(all.contains(escaped), "the escaped name: {context}");
            assert!(all.contains("c\\x1b[2J"), "the escaped checksum: {context}");
            let expected = if args == ["status"] { 0 } else { 4 };
            assert_eq!(code, Some(expected), "{context}");
        }
        // JSON keeps the exact value: it escapes control characters itself.
        let output = plantdb(dir.path(), &db.url())
            .args(["status", "--json"])
            .output()
            .expect("run");
        let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(doc["missing"][0]["name"], name, "{}", db.dialect_name());
    });
}

/// Runs plantdb on `url` with `dir` as working directory, as an unprivileged user when we are
/// root: root may write any file, so a read-only file is read-only only for someone else.
fn run_unprivileged(dir: &Path, url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_plantdb"));
    cmd.current_dir(dir)
        .env_remove("PLANTDB_TIMESCALE")
        .env_remove("PLANTDB_SECRET_KEY")
        .env("DATABASE_URL", url)
        .args(args);
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root {
        // `nobody`.
        cmd.uid(65534).gid(65534);
    }
    let output = cmd.output().expect("run plantdb");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_read_only_sqlite_file_is_named_and_no_migration_is_blamed() {
    use std::os::unix::fs::PermissionsExt;
    let set_mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    let file = crate::support::SqliteFile::new();
    up_all(&file.url());
    let dir = file.dir.path();
    // The file read-only, then (file writable) its directory, where the journal would go.
    for (file_mode, dir_mode) in [(0o444, 0o755), (0o666, 0o555)] {
        set_mode(&file.path, file_mode);
        set_mode(dir, dir_mode);
        let (code, _, stderr) = run_unprivileged(dir, &file.url(), &["migrate", "down"]);
        set_mode(dir, 0o755);
        let context = format!("file {file_mode:o}, directory {dir_mode:o}:\n{stderr}");
        assert!(
            stderr.contains(&format!(
                "SQLite database `{}` is read-only for this user",
                file.path.display()
            )),
            "{context}"
        );
        assert!(
            !stderr.contains("migration 2026"),
            "a migration is blamed: {context}"
        );
        assert_eq!(code, Some(5), "{context}");
        // Reading is fine.
        let (code, stdout, _) = run_unprivileged(dir, &file.url(), &["status"]);
        assert_eq!(code, Some(0), "{context}");
        assert!(stdout.contains("up to date"), "{stdout}");
    }
}

#[test]
fn a_file_that_is_not_a_database_is_named_and_exits_5() {
    let file = crate::support::SqliteFile::new();
    let text = "DATABASE_URL=postgres://somewhere/else\n";
    std::fs::write(&file.path, text).expect("write");
    for args in [&["status"][..], &["migrate", "up"], &["seed"]] {
        let (code, _, stderr) = run(plantdb(file.dir.path(), &file.url()).args(args));
        assert!(
            stderr.contains(&format!(
                "`{}` is not a SQLite database",
                file.path.display()
            )),
            "{args:?}: {stderr}"
        );
        assert_eq!(code, Some(5), "{args:?}: {stderr}");
    }
    assert_eq!(std::fs::read_to_string(&file.path).expect("read"), text);
}

#[test]
fn status_on_a_missing_sqlite_file_says_it_does_not_exist() {
    let file = crate::support::SqliteFile::new();
    let (code, _, stderr) = run(plantdb(file.dir.path(), &file.url()).arg("status"));
    assert!(
        stderr.contains(&format!(
            "SQLite database `{}` does not exist",
            file.path.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("write to it"), "{stderr}");
    assert_eq!(code, Some(5), "{stderr}");
    assert!(!file.path.exists(), "status creates nothing");
}

#[test]
fn the_drift_hint_for_a_missing_migration_is_one_that_works() {
    each_dialect(|db| {
        up_all(&db.url());
        execute(
            &db,
            &format!(
                "INSERT INTO {HISTORY_TABLE} (version, name, checksum) \
                 VALUES (20990101000000, 'from_a_newer_binary', 'abc')"
            ),
        );
        let dir = tempfile::tempdir().expect("dir");
        let (code, _, stderr) = run(plantdb(dir.path(), &db.url()).args(["migrate", "up"]));
        let context = format!("{}:\n{stderr}", db.dialect_name());
        assert_eq!(code, Some(4), "{context}");
        let hint = stderr
            .lines()
            .find_map(|line| line.strip_prefix("hint: "))
            .unwrap_or_else(|| panic!("no hint: {context}"));
        // `migrate repair` only accepts changed checksums: it leaves a missing one alone.
        assert!(!hint.contains("repair"), "{context}");
        assert!(hint.contains("20990101000000"), "{context}");
        assert!(hint.contains("--allow-drift"), "{context}");
        // The way the hint offers does work.
        let (code, _, stderr) =
            run(plantdb(dir.path(), &db.url()).args(["migrate", "up", "--allow-drift"]));
        assert_eq!(code, Some(0), "{}: {stderr}", db.dialect_name());
    });
}

#[test]
fn status_of_an_empty_database_says_version_none() {
    each_dialect(|db| {
        if let TestDb::Sqlite(file) = &db {
            // An empty file is an empty SQLite database.
            std::fs::write(&file.path, "").expect("create");
        }
        let dir = tempfile::tempdir().expect("dir");
        let (code, stdout, stderr) = run(plantdb(dir.path(), &db.url()).arg("status"));
        assert_eq!(code, Some(0), "{stderr}");
        assert!(
            stdout.contains(&format!("version:   none ({MIGRATIONS} pending)\n")),
            "{}:\n{stdout}",
            db.dialect_name()
        );
    });
}

#[test]
fn the_reset_prompt_names_every_sqlite_file_it_removes() {
    let file = crate::support::SqliteFile::new();
    up_all(&file.url());
    let journal = format!("{}-journal", file.path.display());
    std::fs::write(&journal, "stale").expect("a stale journal");
    let (code, _, stderr) =
        run(plantdb(file.dir.path(), &file.url()).args(["reset", "--yes", "--no-seed"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "about to destroy SQLite database `{}` (with its -wal, -shm and -journal files)",
            file.path.display()
        )),
        "{stderr}"
    );
    let stale = std::fs::read(&journal).is_ok_and(|bytes| bytes == b"stale");
    assert!(!stale, "{journal} was removed");
}

#[test]
fn seed_counts_are_grouped_by_thousands_like_the_progress_bar() {
    let file = crate::support::SqliteFile::new();
    let (code, stdout, stderr) =
        run(plantdb(file.dir.path(), &file.url()).args(["reset", "--yes"]));
    assert_eq!(code, Some(0), "{stderr}");
    // 3 devices × 7 days × 288 readings a day.
    let telemetry = stdout
        .lines()
        .find(|line| line.starts_with("seeded") && line.contains(" telemetry "))
        .unwrap_or_else(|| panic!("no telemetry line:\n{stdout}"));
    assert!(telemetry.contains("6,048 inserted"), "{telemetry}");
}

#[test]
fn the_fixture_hint_points_at_a_readme_section_that_exists() {
    let file = crate::support::SqliteFile::new();
    up_all(&file.url());
    std::fs::write(
        file.dir.path().join("bad.yaml"),
        "hierarchy:\n  h: {name: H, type: Site}\n\
         characteristic:\n  c: {hierarchy: h, name: C, subgroup_size: 1, provider_type: MANUAL}\n\
         characteristic_config:\n  c: {characteristic: c, config_json: {config_type: MANUAL, \
         schedule: {schedule_type: INTERVAL, interval_minutes: 0}}}\n",
    )
    .expect("write");
    let (code, _, stderr) = run(plantdb(file.dir.path(), &file.url()).args(["seed", "bad.yaml"]));
    assert_eq!(code, Some(1), "{stderr}");
    let hint = stderr
        .lines()
        .find_map(|line| line.strip_prefix("hint: "))
        .unwrap_or_else(|| panic!("no hint: {stderr}"));
    assert!(
        hint.contains("README.md, section \"Fixture format\""),
        "{hint}"
    );
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains("\n### Fixture format\n"),
        "the section exists"
    );
    assert!(
        readme.contains("ManualConfig") && readme.contains("TagConfig"),
        "and describes the rules"
    );
}

#[test]
fn control_characters_in_file_names_are_escaped_in_errors() {
    // File names come from whoever can write the directory: a line break in one must not fake
    // an output line, nor an escape sequence recolour the terminal.
    let dir = tempfile::tempdir().expect("dir");
    let evil = "V1__a\x1b[31m\nFAKE: all good.sql";
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).expect("mkdir");
    std::fs::write(migrations.join(evil), "SELECT 1;").expect("write");
    std::fs::write(dir.path().join("seed\x1b[2J\nFAKE.yaml"), "plants: [1\n").expect("write");
    let db = crate::support::SqliteFile::new();
    for args in [
        &["--migrations", "migrations", "migrate", "up"][..],
        &["seed", "seed\x1b[2J\nFAKE.yaml"],
        &["seed", "missing\x1b[2J\nFAKE.yaml"],
    ] {
        let (code, stdout, stderr) = run(plantdb(dir.path(), &db.url()).args(args));
        let all = format!("{stdout}{stderr}");
        let context = format!("{args:?}:\n{all}");
        assert_eq!(code, Some(1), "{context}");
        assert!(!all.contains('\x1b'), "a raw ESC: {context}");
        assert!(
            !all.lines().any(|line| line.starts_with("FAKE")),
            "a fake line: {context}"
        );
        assert!(all.contains("\\nFAKE"), "the escaped name: {context}");
    }
}

#[test]
fn control_characters_in_database_urls_are_escaped_in_messages() {
    // Hosts and names may be percent-encoded, and the URL itself may hold anything; none of it
    // may reach the terminal raw. The host here is a unix socket that does not exist.
    let dir = tempfile::tempdir().expect("dir");
    for (url, args) in [
        ("evil\x1b[2J\nFAKE://x", &["status"][..]),
        ("postgres://u@h:1x\x1b[2J\nFAKE/db", &["status"]),
        (
            "postgres://u@/db%0AFAKE?host=%2Fnonexistent%0AFAKE%1b",
            &["status"],
        ),
        (
            "postgres://u@/db%0AFAKE?host=%2Fnonexistent%0AFAKE%1b",
            &["reset", "--yes", "--no-seed"],
        ),
    ] {
        let (code, stdout, stderr) = run(plantdb(dir.path(), url).args(args));
        let all = format!("{stdout}{stderr}");
        let context = format!("{url:?} {args:?}:\n{all}");
        assert!(code.is_some_and(|code| code != 0), "{context}");
        assert!(!all.contains('\x1b'), "a raw ESC: {context}");
        assert!(
            !all.lines().any(|line| line.starts_with("FAKE")),
            "a fake line: {context}"
        );
        assert!(all.contains("\\nFAKE"), "the escaped text: {context}");
    }
}
