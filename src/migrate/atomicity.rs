//! Statements that would break the transaction plantdb runs a migration in: transaction
//! control, which would commit or roll back part of the migration behind plantdb's back, and
//! statements the database refuses to run inside a transaction. Found when the migrations are
//! loaded, before anything runs; scripts marked `-- plantdb:no-transaction` may hold them.

use super::lexer::{self, Statement};
use crate::db::Dialect;

/// Where a script's directives (`-- plantdb:no-transaction`, `-- plantdb:foreign-keys-off`) are
/// read, in the words the README and every message pointing at a directive use: the first line,
/// or any later line of the comments that open the file. A directive after the first statement
/// (or after a `/* */` comment) is an ordinary comment.
pub const DIRECTIVE_PLACE: &str =
    "in the leading comment block (the `--` lines before the first statement)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    /// BEGIN, COMMIT, ROLLBACK…: it would end or nest the migration's transaction.
    TransactionControl,
    /// e.g. `CREATE INDEX CONCURRENTLY`, `VACUUM`: the database refuses it in a transaction.
    NeedsNoTransaction,
    /// SQLite's `PRAGMA foreign_keys`: silently ignored inside a transaction.
    ForeignKeysPragma,
    /// `RELEASE` or `ROLLBACK TO` a savepoint the script did not create: one of plantdb's own,
    /// which would commit the step behind plantdb's back or undo part of it silently.
    OuterSavepoint,
}

/// The first statement of `sql` that cannot run inside the migration's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line and column of the statement.
    pub line: usize,
    pub column: usize,
    /// The statement's leading words, e.g. `CREATE INDEX CONCURRENTLY`.
    pub statement: String,
    pub breach: Breach,
}

impl Finding {
    /// Why it is refused and what to do instead.
    pub fn explain(&self) -> String {
        let statement = &self.statement;
        match self.breach {
            Breach::TransactionControl => {
                let effect = if statement == "BEGIN" || statement == "START TRANSACTION" {
                    "would open a transaction inside the one plantdb runs this migration in"
                } else {
                    "would end the transaction plantdb runs this migration in, so a failure could \
                     no longer undo what came before it"
                };
                format!(
                    "`{statement}` {effect}; plantdb commits each migration itself. Remove it, or put \
                     `-- plantdb:no-transaction` {DIRECTIVE_PLACE} to manage transactions in it \
                     yourself (the migration is then not atomic)"
                )
            }
            Breach::NeedsNoTransaction => format!(
                "`{statement}` cannot run inside a transaction, and plantdb runs each migration in one: \
                 move it to a migration of its own with `-- plantdb:no-transaction` \
                 {DIRECTIVE_PLACE} (that migration is then not atomic)"
            ),
            Breach::OuterSavepoint => format!(
                "`{statement}` names a savepoint this script did not create, so it would end or \
                 undo part of the transaction plantdb runs this migration in: only release or roll \
                 back to savepoints the script made itself with `SAVEPOINT`, or put \
                 `-- plantdb:no-transaction` at the top of the file to manage transactions in it \
                 yourself (the migration is then not atomic)"
            ),
            Breach::ForeignKeysPragma => format!(
                "`{statement}` does nothing inside a transaction, and plantdb runs each migration in \
                 one: put `-- plantdb:foreign-keys-off` {DIRECTIVE_PLACE} instead, and plantdb \
                 turns foreign keys off around it and checks them before committing"
            ),
        }
    }
}

/// The first statement in `sql` that must not run inside a transaction, if any.
pub fn first_breach(sql: &str, dialect: Dialect) -> Option<Finding> {
    let mut created = Vec::new();
    lexer::statements(sql, dialect)
        .iter()
        .find_map(|statement| {
            match savepoint_use(statement, sql) {
                Some(SavepointUse::Create(name)) => created.push(name),
                Some(SavepointUse::Leave { shown, name }) => {
                    let Some(at) = created.iter().rposition(|made| *made == name) else {
                        let (line, column) = statement.position();
                        return Some(Finding {
                            line,
                            column,
                            statement: shown.to_string(),
                            breach: Breach::OuterSavepoint,
                        });
                    };
                    // RELEASE ends the savepoint and those made after it; ROLLBACK TO keeps it.
                    created.truncate(if shown == "RELEASE" { at } else { at + 1 });
                }
                None => {}
            }
            classify(statement, sql, dialect)
        })
}

enum SavepointUse {
    Create(String),
    /// `RELEASE` or `ROLLBACK TO`, as `shown`.
    Leave {
        shown: &'static str,
        name: String,
    },
}

/// What `statement` does with a savepoint, and the savepoint's name as the databases compare
/// it (quotes removed, case ignored: SQLite ignores it, and PostgreSQL refuses a mismatch
/// itself).
fn savepoint_use(statement: &Statement, sql: &str) -> Option<SavepointUse> {
    let texts: Vec<&str> = statement
        .tokens
        .iter()
        .map(|token| &sql[token.start..token.end])
        .collect();
    let upper: Vec<String> = texts.iter().map(|text| text.to_uppercase()).collect();
    let upper: Vec<&str> = upper.iter().map(String::as_str).collect();
    // The position of the name after the keywords; `SAVEPOINT` before it is optional.
    let optional_savepoint = |at: usize| {
        if upper.get(at) == Some(&"SAVEPOINT") && upper.len() > at + 1 {
            at + 1
        } else {
            at
        }
    };
    let (shown, at) = match upper.as_slice() {
        ["SAVEPOINT", _, ..] => (None, 1),
        ["RELEASE", ..] => (Some("RELEASE"), optional_savepoint(1)),
        ["ROLLBACK", "WORK" | "TRANSACTION", "TO", ..] => {
            (Some("ROLLBACK TO"), optional_savepoint(3))
        }
        ["ROLLBACK", "TO", ..] => (Some("ROLLBACK TO"), optional_savepoint(2)),
        _ => return None,
    };
    let name = unquoted_name(texts.get(at)?);
    Some(match shown {
        None => SavepointUse::Create(name),
        Some(shown) => SavepointUse::Leave { shown, name },
    })
}

/// A name as the databases compare it: quotes removed, case ignored.
fn unquoted_name(text: &str) -> String {
    let unquoted = match text.chars().next() {
        Some('"') => text.trim_matches('"').replace("\"\"", "\""),
        Some('\'') => text.trim_matches('\'').replace("''", "'"),
        Some('`') => text.trim_matches('`').replace("``", "`"),
        Some('[') => text
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        _ => text.to_string(),
    };
    unquoted.to_lowercase()
}

fn classify(statement: &Statement, sql: &str, dialect: Dialect) -> Option<Finding> {
    let words = statement.words();
    let (shown, breach) = transaction_control(&words)
        .or_else(|| needs_no_transaction(&words, dialect))
        .or_else(|| foreign_keys_pragma(statement, sql, dialect))?;
    let (line, column) = statement.position();
    Some(Finding {
        line,
        column,
        statement: shown,
        breach,
    })
}

fn transaction_control(words: &[&str]) -> Option<(String, Breach)> {
    let shown = |text: &str| Some((text.to_string(), Breach::TransactionControl));
    match words {
        // PostgreSQL: BEGIN [WORK | TRANSACTION]; SQLite: BEGIN [DEFERRED | IMMEDIATE | EXCLUSIVE].
        // (`BEGIN ATOMIC` bodies and trigger bodies are inside CREATE statements.)
        ["BEGIN", ..] => shown("BEGIN"),
        ["START", "TRANSACTION", ..] => shown("START TRANSACTION"),
        ["COMMIT", "PREPARED", ..] => shown("COMMIT PREPARED"),
        ["COMMIT", ..] => shown("COMMIT"),
        ["END", ..] => shown("END"),
        ["ABORT", ..] => shown("ABORT"),
        ["PREPARE", "TRANSACTION", ..] => shown("PREPARE TRANSACTION"),
        ["ROLLBACK", rest @ ..] => {
            let rest = match rest {
                ["WORK" | "TRANSACTION", rest @ ..] => rest,
                rest => rest,
            };
            match rest {
                // Back to a savepoint of the script's own: stays inside the transaction.
                ["TO", ..] => None,
                ["PREPARED", ..] => shown("ROLLBACK PREPARED"),
                _ => shown("ROLLBACK"),
            }
        }
        _ => None,
    }
}

/// SQLite's `PRAGMA [schema.]foreign_keys`, its names quoted or not (SQLite takes a quoted
/// pragma name, even a string, as the name).
fn foreign_keys_pragma(
    statement: &Statement,
    sql: &str,
    dialect: Dialect,
) -> Option<(String, Breach)> {
    if dialect != Dialect::Sqlite {
        return None;
    }
    let texts: Vec<&str> = statement
        .tokens
        .iter()
        .map(|token| &sql[token.start..token.end])
        .collect();
    let name = match texts.as_slice() {
        [pragma, _, ".", name, ..] | [pragma, name, ..]
            if pragma.eq_ignore_ascii_case("PRAGMA") =>
        {
            name
        }
        _ => return None,
    };
    (unquoted_name(name) == "foreign_keys")
        .then(|| ("PRAGMA foreign_keys".to_string(), Breach::ForeignKeysPragma))
}

fn needs_no_transaction(words: &[&str], dialect: Dialect) -> Option<(String, Breach)> {
    let shown = |text: &str| Some((text.to_string(), Breach::NeedsNoTransaction));
    let has = |word: &str| words.contains(&word);
    match dialect {
        Dialect::Sqlite => match words {
            ["VACUUM", ..] => shown("VACUUM"),
            _ => None,
        },
        Dialect::Postgres => match words {
            ["VACUUM", ..] => shown("VACUUM"),
            ["CREATE", "INDEX", "CONCURRENTLY", ..]
            | ["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY", ..] => {
                shown("CREATE INDEX CONCURRENTLY")
            }
            ["DROP", "INDEX", "CONCURRENTLY", ..] => shown("DROP INDEX CONCURRENTLY"),
            ["REINDEX", ..] if has("CONCURRENTLY") => shown("REINDEX CONCURRENTLY"),
            ["REINDEX", "DATABASE" | "SYSTEM" | "SCHEMA", ..] => {
                shown(&format!("REINDEX {}", words[1]))
            }
            [
                "CREATE" | "DROP",
                "DATABASE" | "TABLESPACE" | "SUBSCRIPTION",
                ..,
            ] => shown(&format!("{} {}", words[0], words[1])),
            ["ALTER", "DATABASE", ..] if words.windows(2).any(|w| w == ["SET", "TABLESPACE"]) => {
                shown("ALTER DATABASE … SET TABLESPACE")
            }
            ["ALTER", "SUBSCRIPTION", ..] if has("REFRESH") || has("PUBLICATION") => {
                shown("ALTER SUBSCRIPTION … PUBLICATION")
            }
            ["ALTER", "SYSTEM", ..] => shown("ALTER SYSTEM"),
            ["ALTER", "TABLE", ..] if has("DETACH") && has("CONCURRENTLY") => {
                shown("ALTER TABLE … DETACH PARTITION … CONCURRENTLY")
            }
            // CLUSTER without a table re-clusters every table, one transaction each.
            ["CLUSTER"] | ["CLUSTER", "VERBOSE"] => shown("CLUSTER"),
            ["DISCARD", "ALL", ..] => shown("DISCARD ALL"),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str) -> Option<(String, usize)> {
        first_breach(sql, Dialect::Postgres).map(|f| (f.statement, f.line))
    }

    fn lite(sql: &str) -> Option<(String, usize)> {
        first_breach(sql, Dialect::Sqlite).map(|f| (f.statement, f.line))
    }

    #[test]
    fn finds_transaction_control_on_both_dialects() {
        for (sql, shown) in [
            ("BEGIN;", "BEGIN"),
            ("begin transaction", "BEGIN"),
            ("COMMIT", "COMMIT"),
            ("commit and chain", "COMMIT"),
            ("END", "END"),
            ("ROLLBACK", "ROLLBACK"),
            ("ROLLBACK WORK", "ROLLBACK"),
        ] {
            for dialect in [Dialect::Postgres, Dialect::Sqlite] {
                let found = first_breach(sql, dialect).unwrap_or_else(|| panic!("{sql}"));
                assert_eq!(found.statement, shown, "{sql}");
                assert_eq!(found.breach, Breach::TransactionControl);
            }
        }
        for (sql, shown) in [
            (
                "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
                "START TRANSACTION",
            ),
            ("ABORT", "ABORT"),
            ("PREPARE TRANSACTION 'x'", "PREPARE TRANSACTION"),
            ("COMMIT PREPARED 'x'", "COMMIT PREPARED"),
            ("ROLLBACK PREPARED 'x'", "ROLLBACK PREPARED"),
        ] {
            assert_eq!(pg(sql).map(|f| f.0), Some(shown.to_string()), "{sql}");
        }
        for sql in [
            "BEGIN DEFERRED",
            "BEGIN IMMEDIATE TRANSACTION",
            "BEGIN EXCLUSIVE",
            "END TRANSACTION",
        ] {
            assert!(lite(sql).is_some(), "{sql}");
        }
    }

    #[test]
    fn the_script_that_leaves_half_a_migration_behind_is_refused_at_its_line() {
        let sql = "CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\nSELECT 1/0;\n";
        assert_eq!(pg(sql), Some(("COMMIT".into(), 2)));
        assert_eq!(lite(sql), Some(("COMMIT".into(), 2)));
    }

    #[test]
    fn savepoints_are_fine() {
        for sql in [
            "SAVEPOINT s; ROLLBACK TO s; RELEASE s;",
            "SAVEPOINT s; ROLLBACK TO SAVEPOINT s",
            "savepoint s; rollback transaction to savepoint s",
            "SAVEPOINT s; ROLLBACK WORK TO s",
        ] {
            assert_eq!(pg(sql), None, "{sql}");
            assert_eq!(lite(sql), None, "{sql}");
        }
    }

    #[test]
    fn releasing_or_rolling_back_to_a_savepoint_the_script_did_not_create_is_refused() {
        // plantdb runs each SQLite step in a savepoint of its own: releasing it commits the
        // step behind plantdb's back, rolling back to it undoes part of the step silently.
        for (sql, shown, line) in [
            (
                "CREATE TABLE t (id int);\nRELEASE plantdb_step;",
                "RELEASE",
                2,
            ),
            ("RELEASE SAVEPOINT \"plantdb_step\"", "RELEASE", 1),
            (
                "SAVEPOINT a; RELEASE a;\nROLLBACK TO plantdb_atomic",
                "ROLLBACK TO",
                2,
            ),
            ("ROLLBACK TRANSACTION TO SAVEPOINT [x]", "ROLLBACK TO", 1),
            ("SAVEPOINT a; RELEASE b", "RELEASE", 1),
            // Once released, the name is plantdb's again.
            (
                "SAVEPOINT plantdb_step; RELEASE plantdb_step;\nRELEASE plantdb_step",
                "RELEASE",
                2,
            ),
            (
                "SAVEPOINT a; SAVEPOINT b; RELEASE a;\nROLLBACK TO b",
                "ROLLBACK TO",
                2,
            ),
        ] {
            for dialect in [Dialect::Postgres, Dialect::Sqlite] {
                if sql.contains('[') && dialect == Dialect::Postgres {
                    continue;
                }
                let found = first_breach(sql, dialect).unwrap_or_else(|| panic!("{sql}"));
                assert_eq!(
                    (found.statement.as_str(), found.line),
                    (shown, line),
                    "{sql}"
                );
                assert_eq!(found.breach, Breach::OuterSavepoint, "{sql}");
                assert!(found.explain().contains("savepoint"), "{}", found.explain());
            }
        }
        // Names compare as the databases compare them: unquoted names ignore case.
        assert_eq!(
            lite("SAVEPOINT Sp1; ROLLBACK TO sp1; RELEASE \"Sp1\""),
            None
        );
        // The same name twice: each release ends the latest.
        assert_eq!(lite("SAVEPOINT a; SAVEPOINT a; RELEASE a; RELEASE a"), None);
    }

    #[test]
    fn finds_postgres_statements_that_cannot_run_in_a_transaction() {
        for (sql, shown) in [
            (
                "CREATE INDEX CONCURRENTLY i ON t (x)",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "create unique index concurrently i on t (x)",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "DROP INDEX CONCURRENTLY IF EXISTS i",
                "DROP INDEX CONCURRENTLY",
            ),
            ("REINDEX TABLE CONCURRENTLY t", "REINDEX CONCURRENTLY"),
            (
                "REINDEX (VERBOSE) INDEX CONCURRENTLY i",
                "REINDEX CONCURRENTLY",
            ),
            ("REINDEX DATABASE plant", "REINDEX DATABASE"),
            ("REINDEX SYSTEM", "REINDEX SYSTEM"),
            ("VACUUM", "VACUUM"),
            ("VACUUM (ANALYZE) t", "VACUUM"),
            ("CREATE DATABASE x", "CREATE DATABASE"),
            ("DROP DATABASE IF EXISTS x", "DROP DATABASE"),
            ("CREATE TABLESPACE s LOCATION '/x'", "CREATE TABLESPACE"),
            ("DROP TABLESPACE s", "DROP TABLESPACE"),
            (
                "ALTER DATABASE x SET TABLESPACE s",
                "ALTER DATABASE … SET TABLESPACE",
            ),
            ("ALTER SYSTEM SET work_mem = '1MB'", "ALTER SYSTEM"),
            (
                "ALTER TABLE m DETACH PARTITION m_2020 CONCURRENTLY",
                "ALTER TABLE … DETACH PARTITION … CONCURRENTLY",
            ),
            (
                "CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p",
                "CREATE SUBSCRIPTION",
            ),
            ("DROP SUBSCRIPTION s", "DROP SUBSCRIPTION"),
            (
                "ALTER SUBSCRIPTION s REFRESH PUBLICATION",
                "ALTER SUBSCRIPTION … PUBLICATION",
            ),
            ("CLUSTER", "CLUSTER"),
            ("DISCARD ALL", "DISCARD ALL"),
        ] {
            let found = first_breach(sql, Dialect::Postgres).unwrap_or_else(|| panic!("{sql}"));
            assert_eq!(found.statement, shown, "{sql}");
            assert_eq!(found.breach, Breach::NeedsNoTransaction, "{sql}");
        }
    }

    #[test]
    fn ordinary_statements_that_look_alike_pass() {
        for sql in [
            "CREATE INDEX i ON t (x)",
            "CREATE INDEX concurrently_named ON t (x)",
            "REINDEX TABLE t",
            "ALTER DATABASE x SET work_mem = '1MB'",
            "ALTER TABLE m DETACH PARTITION m_2020",
            "ALTER SUBSCRIPTION s DISABLE",
            "CLUSTER t USING i",
            "DISCARD TEMP",
            "ANALYZE t",
            "PREPARE q AS SELECT 1",
            "SELECT 'COMMIT'; SELECT \"begin\" FROM t",
            "-- COMMIT\n/* VACUUM */ SELECT 1",
            "CREATE INDEX i ON t (x) WHERE (SELECT 'VACUUM') IS NOT NULL",
        ] {
            assert_eq!(pg(sql), None, "{sql}");
        }
        // On SQLite a column may be called `end` when quoted.
        assert_eq!(lite("UPDATE t SET \"end\" = 1"), None);
    }

    #[test]
    fn function_and_trigger_bodies_may_hold_transaction_words() {
        let plpgsql = "CREATE FUNCTION f() RETURNS void AS $$\nBEGIN\n  COMMIT;\nEND\n$$ LANGUAGE plpgsql;\nDO $x$ BEGIN ROLLBACK; END $x$;";
        assert_eq!(pg(plpgsql), None);
        let atomic = "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 END;\nEND;\nSELECT 1;";
        assert_eq!(pg(atomic), None);
        let trigger = "CREATE TRIGGER t AFTER UPDATE ON x FOR EACH ROW\nBEGIN\n  UPDATE x SET y = CASE WHEN NEW.y IS NULL THEN 0 END;\nEND;\nVACUUM;";
        assert_eq!(lite(trigger), Some(("VACUUM".into(), 5)));
    }

    #[test]
    fn sqlite_vacuum_and_foreign_keys_pragma() {
        assert_eq!(lite("VACUUM"), Some(("VACUUM".into(), 1)));
        let found = first_breach("PRAGMA foreign_keys = OFF;", Dialect::Sqlite).unwrap();
        assert_eq!(found.breach, Breach::ForeignKeysPragma);
        assert!(found.explain().contains("plantdb:foreign-keys-off"));
        assert_eq!(lite("PRAGMA foreign_key_check"), None);
        assert_eq!(
            lite("PRAGMA main.foreign_keys = 0"),
            Some(("PRAGMA foreign_keys".into(), 1))
        );
        // SQLite reads a quoted pragma name as the name: ignored inside a transaction all the
        // same, so a table rebuild would run with foreign keys on and cascade its DROP TABLE.
        for sql in [
            "PRAGMA \"foreign_keys\" = OFF",
            "PRAGMA 'Foreign_Keys' = 0",
            "PRAGMA [foreign_keys]=0",
            "PRAGMA main.`foreign_keys` = false",
            "PRAGMA \"main\".\"foreign_keys\"(0)",
        ] {
            let found = first_breach(sql, Dialect::Sqlite).unwrap_or_else(|| panic!("{sql}"));
            assert_eq!(found.breach, Breach::ForeignKeysPragma, "{sql}");
        }
        assert_eq!(lite("PRAGMA \"foreign_key_list\"('t')"), None);
    }

    #[test]
    fn explanations_point_at_the_directive() {
        let found = first_breach("COMMIT", Dialect::Postgres).unwrap();
        assert!(found.explain().contains("-- plantdb:no-transaction"));
        let found = first_breach("VACUUM", Dialect::Postgres).unwrap();
        assert!(found.explain().contains("-- plantdb:no-transaction"));
    }
}
