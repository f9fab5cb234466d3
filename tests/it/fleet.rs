//! `plantdb fleet`: many databases from one fleet file, on two PostgreSQL servers and SQLite,
//! with a database whose migrations fail and one that cannot be reached.
//!
//! The migrations are the tests' own (`--migrations`): the first creates a table and puts a
//! row in it, so running it a second time on a database fails; the broken database's own
//! directory (the entry's `migrations:`) has a second migration that fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;

use crate::support::postgres::TEST_PASSWORD;
use crate::support::{PgDatabase, SqliteFile};

/// The variable the fleet files take the password from.
const PASSWORD_VAR: &str = "FLEET_TEST_PASSWORD";

fn plantdb(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("plantdb").unwrap();
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("PLANTDB_TIMESCALE")
        .env_remove("PLANTDB_FLEET")
        .env(PASSWORD_VAR, TEST_PASSWORD)
        .timeout(std::time::Duration::from_secs(180));
    cmd
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `good/`: two migrations with down scripts, for both dialects. `broken/`: the same first
/// migration and a second that fails. `slow/` (PostgreSQL): a second that takes a while.
fn migration_dirs(dir: &Path) {
    for name in ["good", "broken", "slow"] {
        write(
            &dir.join(name).join("V1__sites.sql"),
            "CREATE TABLE site_marker (id INTEGER PRIMARY KEY);\nINSERT INTO site_marker VALUES (1);\n",
        );
        write(
            &dir.join(name).join("V1__sites.down.sql"),
            "DROP TABLE site_marker;\n",
        );
        write(
            &dir.join(name).join("V2__readings.down.sql"),
            "DROP TABLE readings;\n",
        );
    }
    write(
        &dir.join("good/V2__readings.sql"),
        "CREATE TABLE readings (id INTEGER);\n",
    );
    write(
        &dir.join("broken/V2__readings.sql"),
        "CREATE TABLE readings (id INTEGER);\nINSERT INTO no_such_table VALUES (1);\n",
    );
    write(
        &dir.join("slow/V2__readings.sql"),
        "SELECT pg_sleep(1.5);\nCREATE TABLE readings (id INTEGER);\n",
    );
}

/// A database of the fleet, and how to look into it with plain SQL.
enum Member {
    Pg(PgDatabase),
    Sqlite(SqliteFile),
}

impl Member {
    /// The URL for the fleet file: the password comes from the environment.
    fn fleet_url(&self) -> String {
        match self {
            Member::Pg(db) => db
                .url
                .replace(TEST_PASSWORD, &format!("${{{PASSWORD_VAR}}}")),
            Member::Sqlite(file) => file.url(),
        }
    }

    /// What is in the database, read with one connection.
    fn look(&self) -> Look {
        let tables = ["plantdb_migrations", "site_marker", "readings"];
        let exists: Vec<bool> = match self {
            Member::Pg(db) => {
                let mut client = db.client();
                let found: Vec<bool> = tables
                    .iter()
                    .map(|t| {
                        client
                            .query_one("SELECT to_regclass($1) IS NOT NULL", &[t])
                            .unwrap()
                            .get(0)
                    })
                    .collect();
                let history = found[0].then(|| {
                    client
                        .query_one("SELECT count(*) FROM plantdb_migrations", &[])
                        .unwrap()
                        .get(0)
                });
                return Look {
                    history,
                    site_marker: found[1],
                    readings: found[2],
                };
            }
            Member::Sqlite(file) if !file.path.exists() => vec![false; 3],
            Member::Sqlite(file) => {
                let connection = file.connection();
                let found: Vec<bool> = tables
                    .iter()
                    .map(|t| {
                        connection
                            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [t], |row| row.get::<_, i64>(0))
                            .unwrap()
                            == 1
                    })
                    .collect();
                let history = found[0].then(|| {
                    connection
                        .query_row("SELECT count(*) FROM plantdb_migrations", [], |row| {
                            row.get(0)
                        })
                        .unwrap()
                });
                return Look {
                    history,
                    site_marker: found[1],
                    readings: found[2],
                };
            }
        };
        Look {
            history: None,
            site_marker: exists[1],
            readings: exists[2],
        }
    }

    /// The number of rows in plantdb's history, or `None` when there is no history table.
    fn history(&self) -> Option<i64> {
        self.look().history
    }

    fn has_table(&self, name: &str) -> bool {
        let look = self.look();
        match name {
            "site_marker" => look.site_marker,
            "readings" => look.readings,
            other => panic!("no check for table {other}"),
        }
    }

    /// Fully migrated by `good/`: both migrations recorded, the marker row there once.
    fn fully_migrated(&self) -> bool {
        let look = self.look();
        look.history == Some(2) && look.site_marker && look.readings
    }

    /// Never touched: no history table, none of the migrations' tables.
    fn untouched(&self) -> bool {
        let look = self.look();
        look.history.is_none() && !look.site_marker && !look.readings
    }
}

struct Look {
    history: Option<i64>,
    site_marker: bool,
    readings: bool,
}

/// A fleet file entry.
struct Line {
    name: String,
    url: String,
    groups: Vec<&'static str>,
    migrations: Option<PathBuf>,
}

fn fleet_file(path: &Path, lines: &[Line]) {
    let mut text = String::from("# written by the fleet tests\ndatabases:\n");
    for line in lines {
        text.push_str(&format!("  {}:\n    url: \"{}\"\n", line.name, line.url));
        if !line.groups.is_empty() {
            text.push_str(&format!("    groups: [{}]\n", line.groups.join(", ")));
        }
        if let Some(dir) = &line.migrations {
            text.push_str(&format!("    migrations: {}\n", dir.display()));
        }
    }
    write(path, &text);
}

fn line(name: &str, member: &Member, groups: &[&'static str]) -> Line {
    Line {
        name: name.to_string(),
        url: member.fleet_url(),
        groups: groups.to_vec(),
        migrations: None,
    }
}

fn json(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(output)))
}

/// The summary's entry for database `name`.
fn entry<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no `{name}` in {summary:#}"))
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_fleet_of_thirty_five_on_two_servers_and_sqlite_migrates_each_good_database_once() {
    let dir = tempfile::tempdir().unwrap();
    migration_dirs(dir.path());
    let mut members: Vec<(String, Member, &'static str)> = Vec::new();
    for i in 0..30 {
        members.push((
            format!("east-{i:02}"),
            Member::Pg(PgDatabase::new()),
            "east",
        ));
    }
    for i in 0..2 {
        members.push((
            format!("west-{i}"),
            Member::Pg(PgDatabase::on_second_server()),
            "west",
        ));
    }
    members.push(("lab".into(), Member::Sqlite(SqliteFile::new()), "west"));
    let broken = Member::Pg(PgDatabase::new());
    let mut lines: Vec<Line> = members
        .iter()
        .map(|(name, member, group)| line(name, member, &[group]))
        .collect();
    lines.push(Line {
        migrations: Some(dir.path().join("broken")),
        ..line("broken", &broken, &["east"])
    });
    lines.push(Line {
        name: "gone".into(),
        url: format!(
            "postgres://plantdb_test:${{{PASSWORD_VAR}}}@127.0.0.1:{}/gone?connect_timeout=3",
            closed_port()
        ),
        groups: vec!["west"],
        migrations: None,
    });
    fleet_file(&dir.path().join("plantdb-fleet.yaml"), &lines);
    let migrate = |extra: &[&str]| {
        let output = plantdb(dir.path())
            .args([
                "--migrations",
                "good",
                "fleet",
                "--parallel",
                "6",
                "migrate",
                "up",
            ])
            .args(extra)
            .output()
            .unwrap();
        for stream in [&output.stdout, &output.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(
                !text.contains(TEST_PASSWORD),
                "the password was printed: {text}"
            );
            assert!(!text.contains("panicked"), "{text}");
        }
        output
    };

    // --keep-going: every good database is migrated, whatever fails beside it.
    let output = migrate(&["--keep-going", "--json"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = json(&output.stdout);
    assert_eq!(summary["action"], "migrate up");
    assert_eq!(summary["ok"], false);
    assert_eq!(summary["succeeded"], 33, "{summary:#}");
    assert_eq!(summary["failed"], 2, "{summary:#}");
    assert_eq!(summary["not_started"], 0, "{summary:#}");
    for (name, member, _) in &members {
        assert!(member.fully_migrated(), "{name} is not fully migrated");
        let reported = entry(&summary, name);
        assert_eq!(reported["state"], "succeeded", "{reported:#}");
        assert_eq!(reported["version"], 2, "{reported:#}");
        let steps: Vec<&serde_json::Value> = reported["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["version"])
            .collect();
        assert_eq!(steps, [1, 2], "{reported:#}");
        assert!(reported["duration_ms"].as_u64().is_some(), "{reported:#}");
        assert!(
            reported["url"].as_str().unwrap().contains("****") || name == "lab",
            "{reported:#}"
        );
    }
    assert_eq!(entry(&summary, "west-0")["dialect"], "postgres");
    assert_eq!(entry(&summary, "lab")["dialect"], "sqlite");
    // The broken database kept its first migration and lost the failed second one.
    let failed = entry(&summary, "broken");
    assert_eq!(failed["state"], "failed");
    let message = failed["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("migration 2") && message.contains("no_such_table"),
        "{message}"
    );
    assert_eq!(broken.history(), Some(1));
    assert!(broken.has_table("site_marker") && !broken.has_table("readings"));
    let gone = entry(&summary, "gone");
    assert_eq!(gone["state"], "failed");
    assert_eq!(gone["error"]["unreachable"], true, "{gone:#}");
    assert_eq!(gone["error"]["exit_code"], 5, "{gone:#}");

    // Again, as text: nothing runs twice (the first migration would fail on its existing
    // table), and the summary has one row per database and the totals.
    let output = migrate(&["--keep-going"]);
    for (name, member, _) in &members {
        assert_eq!(member.history(), Some(2), "{name}");
    }
    assert_eq!(broken.history(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("NAME"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains("nothing to do")).count(),
        33,
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("broken") && l.contains("FAILED")),
        "{text}"
    );
    assert!(text.contains("broken: error: migration 2"), "{text}");
    assert!(text.contains("gone: hint:"), "{text}");
    assert!(
        text.contains("fleet migrate up: 33 succeeded, 2 failed, 0 not started"),
        "{text}"
    );

    // status: one table; --check says which databases are behind or unreachable.
    let output = plantdb(dir.path())
        .args([
            "--migrations",
            "good",
            "fleet",
            "status",
            "--check",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5), "unreachable wins");
    let status = json(&output.stdout);
    assert_eq!(
        status["behind"],
        serde_json::json!(["broken"]),
        "{status:#}"
    );
    assert_eq!(
        status["unreachable"],
        serde_json::json!(["gone"]),
        "{status:#}"
    );
    assert_eq!(status["databases"].as_array().unwrap().len(), 35);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unreachable: gone") && stderr.contains("broken"),
        "{stderr}"
    );
    let output = plantdb(dir.path())
        .args(["--migrations", "good", "fleet", "status"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{table}");
    assert!(
        table.starts_with("NAME") && table.contains("REACHABLE"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("gone") && l.contains("NO: ")),
        "{table}"
    );
    assert!(!table.contains(TEST_PASSWORD), "{table}");
    // --check follows the selection: the worst of the databases picked.
    for (args, code) in [
        (&["--group", "west"][..], 5),
        (&["--only", "east-00,broken"][..], 3),
        (&["--only", "east-00,west-0,lab"][..], 0),
    ] {
        let output = plantdb(dir.path())
            .args(["--migrations", "good", "fleet"])
            .args(args)
            .args(["status", "--check"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(code), "{args:?}");
    }
}

/// Six PostgreSQL databases in file order, the third broken; one at a time.
fn six_with_a_broken_third(dir: &Path) -> Vec<Member> {
    migration_dirs(dir);
    let members: Vec<Member> = (0..6).map(|_| Member::Pg(PgDatabase::new())).collect();
    let lines: Vec<Line> = members
        .iter()
        .enumerate()
        .map(|(i, member)| Line {
            migrations: (i == 2).then(|| dir.join("broken")),
            ..line(
                &format!("site-{i}"),
                member,
                if i < 2 { &["canary"][..] } else { &[][..] },
            )
        })
        .collect();
    fleet_file(&dir.join("plantdb-fleet.yaml"), &lines);
    members
}

#[test]
fn stop_on_failure_starts_nothing_after_a_failure_and_keep_going_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let members = six_with_a_broken_third(dir.path());
    let output = plantdb(dir.path())
        .args([
            "--migrations",
            "good",
            "fleet",
            "--parallel",
            "1",
            "migrate",
            "up",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(members[0].fully_migrated() && members[1].fully_migrated());
    assert_eq!(members[2].history(), Some(1));
    for later in &members[3..] {
        assert!(later.untouched());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("not started: another database failed"))
            .count(),
        3,
        "{text}"
    );
    assert!(
        text.contains("2 succeeded, 1 failed, 3 not started"),
        "{text}"
    );
    // Off a terminal, a plain line per database as it starts and as it ends, on stderr.
    let progress = String::from_utf8_lossy(&output.stderr);
    for i in 0..3 {
        assert!(
            progress.contains(&format!("site-{i}: started")),
            "{progress}"
        );
    }
    assert!(progress.contains("site-0: done in"), "{progress}");
    assert!(progress.contains("site-2: FAILED after"), "{progress}");
    assert!(!progress.contains("site-3:"), "{progress}");

    let output = plantdb(dir.path())
        .args([
            "--migrations",
            "good",
            "fleet",
            "--parallel",
            "1",
            "migrate",
            "up",
            "--keep-going",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let summary = json(&output.stdout);
    assert_eq!(
        (summary["succeeded"].as_u64(), summary["failed"].as_u64()),
        (Some(5), Some(1))
    );
    for (i, member) in members.iter().enumerate() {
        assert_eq!(member.fully_migrated(), i != 2, "site-{i}");
    }
    assert_eq!(entry(&summary, "site-0")["steps"], serde_json::json!([]));
}

#[test]
fn a_failed_canary_stops_the_rest_and_a_good_one_lets_them_run() {
    let dir = tempfile::tempdir().unwrap();
    let members = six_with_a_broken_third(dir.path());
    // The broken database as the canary: nothing else starts, even with --keep-going.
    let output = plantdb(dir.path())
        .args([
            "--migrations",
            "good",
            "fleet",
            "migrate",
            "up",
            "--canary",
            "site-2",
            "--keep-going",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let summary = json(&output.stdout);
    assert_eq!(entry(&summary, "site-2")["wave"], 1);
    for (i, member) in members.iter().enumerate().filter(|(i, _)| *i != 2) {
        assert!(member.untouched(), "site-{i}");
        let reported = entry(&summary, &format!("site-{i}"));
        assert_eq!(reported["state"], "not-started");
        assert_eq!(reported["not_started"], "earlier-wave-failed");
        assert_eq!(reported["wave"], 2);
    }
    // A group of good canaries: they go first, then the rest.
    let output = plantdb(dir.path())
        .args([
            "--migrations",
            "good",
            "fleet",
            "migrate",
            "up",
            "--canary",
            "canary",
            "--keep-going",
            "--json",
        ])
        .output()
        .unwrap();
    let summary = json(&output.stdout);
    assert_eq!(summary["waves"], 2);
    assert_eq!(summary["succeeded"], 5, "{summary:#}");
    for (i, member) in members.iter().enumerate() {
        assert_eq!(member.fully_migrated(), i != 2, "site-{i}");
    }
    // --waves takes the waves from the groups: `canary` first, then the rest.
    let output = plantdb(dir.path())
        .args([
            "--migrations",
            "good",
            "fleet",
            "migrate",
            "down",
            "--to",
            "0",
            "--waves",
            "--json",
        ])
        .output()
        .unwrap();
    let summary = json(&output.stdout);
    assert_eq!(entry(&summary, "site-0")["wave"], 1);
    assert_eq!(entry(&summary, "site-5")["wave"], 2);
    assert_eq!(summary["succeeded"], 6, "{summary:#}");
    for member in &members {
        assert_eq!(member.history(), Some(0));
        assert!(!member.has_table("site_marker"));
    }
}

#[test]
fn only_and_group_pick_a_subset_on_both_dialects() {
    let dir = tempfile::tempdir().unwrap();
    migration_dirs(dir.path());
    let members = [
        Member::Sqlite(SqliteFile::new()),
        Member::Pg(PgDatabase::new()),
        Member::Sqlite(SqliteFile::new()),
        Member::Pg(PgDatabase::new()),
    ];
    let lines: Vec<Line> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            line(
                &format!("s{i}"),
                m,
                if i % 2 == 0 {
                    &["odd-ones", "all"][..]
                } else {
                    &["all"][..]
                },
            )
        })
        .collect();
    fleet_file(&dir.path().join("sites.yaml"), &lines);
    let fleet = |args: &[&str]| {
        plantdb(dir.path())
            .args(["--migrations", "good", "fleet", "--fleet", "sites.yaml"])
            .args(args)
            .output()
            .unwrap()
    };
    let output = fleet(&["--only", "s1", "--only", "s2", "migrate", "up"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let migrated: Vec<bool> = members.iter().map(Member::fully_migrated).collect();
    assert_eq!(migrated, [false, true, true, false]);
    let output = fleet(&["--group", "odd-ones", "migrate", "up", "--json"]);
    assert_eq!(output.status.code(), Some(0));
    let summary = json(&output.stdout);
    assert_eq!(summary["databases"].as_array().unwrap().len(), 2);
    let migrated: Vec<bool> = members.iter().map(Member::fully_migrated).collect();
    assert_eq!(migrated, [true, true, true, false]);
    // Down to 1 on one of each dialect.
    let output = fleet(&["--only", "s0,s1", "migrate", "down", "--to", "1"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(members[0].history(), Some(1));
    assert_eq!(members[1].history(), Some(1));
    assert!(!members[0].has_table("readings") && members[0].has_table("site_marker"));
    // Names and groups the file does not have are refused before anything runs.
    let output = fleet(&["--only", "s9", "migrate", "up"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no database `s9`") && stderr.contains("s0, s1, s2, s3"),
        "{stderr}"
    );
    let output = fleet(&["--group", "nowhere", "status"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(!members[3].fully_migrated());
    // verify checks each selected database.
    let output = fleet(&["--group", "all", "verify", "--json"]);
    let summary = json(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{summary:#}");
    assert_eq!(summary["succeeded"], 4);
}

#[test]
fn sigint_lets_the_running_databases_finish_and_starts_no_more() {
    let dir = tempfile::tempdir().unwrap();
    migration_dirs(dir.path());
    let members: Vec<Member> = (0..8).map(|_| Member::Pg(PgDatabase::new())).collect();
    let lines: Vec<Line> = members
        .iter()
        .enumerate()
        .map(|(i, m)| line(&format!("plant-{i}"), m, &[]))
        .collect();
    fleet_file(&dir.path().join("plantdb-fleet.yaml"), &lines);
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("plantdb"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("PLANTDB_TIMESCALE")
        .env(PASSWORD_VAR, TEST_PASSWORD)
        .args([
            "--migrations",
            "slow",
            "fleet",
            "--parallel",
            "2",
            "migrate",
            "up",
            "--keep-going",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut progress = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // Each database takes 1.5 s: the first is done while the second pair runs.
    loop {
        let mut next = String::new();
        assert!(
            progress.read_line(&mut next).unwrap() > 0,
            "ended early: {seen}"
        );
        seen.push_str(&next);
        if next.contains(": done in") {
            break;
        }
    }
    let signalled = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(signalled, 0);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut progress, &mut rest).unwrap();
    let output = child.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{seen}{rest}\n{summary}");
    assert!(summary.contains("interrupted"), "{summary}");

    let migrated = members.iter().filter(|m| m.fully_migrated()).count();
    let untouched = members.iter().filter(|m| m.untouched()).count();
    assert_eq!(
        migrated + untouched,
        8,
        "each database is migrated or untouched"
    );
    // Every database that started finished: the one that was done, and those running then.
    let started = format!("{seen}{rest}").matches(": started").count();
    assert_eq!(migrated, started, "{seen}{rest}");
    assert!(
        migrated >= 2 && untouched >= 1,
        "{migrated} migrated, {untouched} untouched"
    );
    assert_eq!(
        summary
            .lines()
            .filter(|l| l.contains("not started: interrupted"))
            .count(),
        untouched,
        "{summary}"
    );
}

#[test]
fn fleet_file_mistakes_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| plantdb(dir.path()).args(args).output().unwrap();
    let output = run(&["fleet", "status"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read fleet file `plantdb-fleet.yaml`")
            && stderr.contains("--fleet FILE"),
        "{stderr}"
    );
    write(
        &dir.path().join("plantdb-fleet.yaml"),
        "databases:\n  a: {url: sqlite://a.sqlite3}\n  b:\n    url: \"postgres://u:${NOT_SET_ANYWHERE}@127.0.0.1/b\"\n",
    );
    let output = run(&["fleet", "migrate", "up"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(
            "error: plantdb-fleet.yaml:4:10: environment variable `NOT_SET_ANYWHERE` is not set"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join("a.sqlite3").exists(), "nothing ran");
}

/// A server that accepts connections and never says a word: a hung host or a stuck proxy.
/// Returns its port; the connections it accepts stay open until the test ends.
fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

#[test]
fn a_silent_server_is_given_up_after_its_connect_timeout_and_the_rest_are_migrated() {
    let dir = tempfile::tempdir().unwrap();
    migration_dirs(dir.path());
    let members: Vec<Member> = (0..2).map(|_| Member::Pg(PgDatabase::new())).collect();
    let mut lines: Vec<Line> = members
        .iter()
        .enumerate()
        .map(|(i, member)| line(&format!("site-{i}"), member, &[]))
        .collect();
    lines.insert(
        1,
        Line {
            name: "hung".into(),
            url: format!(
                "postgres://plantdb_test@127.0.0.1:{}/hung?connect_timeout=2&sslmode=disable",
                silent_server()
            ),
            groups: Vec::new(),
            migrations: None,
        },
    );
    fleet_file(&dir.path().join("plantdb-fleet.yaml"), &lines);
    // Without a bound on connecting, this run would never end.
    let output = plantdb(dir.path())
        .args([
            "--migrations",
            "good",
            "fleet",
            "--parallel",
            "1",
            "migrate",
            "up",
            "--keep-going",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let summary = json(&output.stdout);
    let hung = entry(&summary, "hung");
    assert_eq!(hung["state"], "failed", "{hung:#}");
    assert_eq!(hung["error"]["unreachable"], true, "{hung:#}");
    for member in &members {
        assert!(member.fully_migrated());
    }
}
