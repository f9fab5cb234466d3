//! What plantdb prints when something is off: control characters from the database never
//! reach the terminal raw, and errors say what is wrong and where.

use std::path::Path;

use assert_cmd::Command;
use plantdb::db::HISTORY_TABLE;

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
