//! The fleet file: which databases a fleet command works on.
//!
//! ```yaml
//! databases:
//!   site-a: {url: "postgres://plantdb:${SITE_A_PASSWORD}@db-a:5432/plant", groups: [canary]}
//!   site-b: {url: "sqlite://site-b.sqlite3", migrations: ./site-b-migrations}
//! ```
//!
//! Secrets come from the environment (`${NAME}`), so the file itself can be committed.

use std::path::{Path, PathBuf};

use marked_yaml::LoadError;
use marked_yaml::loader::{LoaderOptions, parse_yaml_with_options};
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, Node};

use crate::config::Target;
use crate::error::{Error, Location, Result};
use crate::seed::yaml_node::{at, load_error};

/// The file fleet commands read unless `--fleet` names another.
pub const DEFAULT_FILE: &str = "plantdb-fleet.yaml";

/// A parsed fleet file: its databases in the order the file lists them.
#[derive(Debug)]
pub struct Fleet {
    pub databases: Vec<Entry>,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub target: Target,
    /// The URL with its password masked: the only form of it that is ever shown.
    pub shown_url: String,
    pub groups: Vec<String>,
    /// This database's own migrations (`migrations:`), instead of the fleet-wide ones.
    pub migrations: Option<PathBuf>,
}

const ENTRY_FIELDS: &str = "url, groups, migrations";

impl Fleet {
    /// Reads `path`, taking `${NAME}` values from the process environment.
    pub fn load(path: &Path) -> Result<Fleet> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Fleet {
            message: format!("cannot read fleet file `{}`: {e}", path.display()),
            hint: format!(
                "`--fleet FILE` names the fleet file; without it plantdb reads {DEFAULT_FILE} in the working directory"
            ),
            source: Some(e),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Fleet::parse(&path.display().to_string(), &text, base, &|name| {
            std::env::var(name).ok()
        })
    }

    /// Parses the text of fleet file `file`; relative `migrations:` paths start at `base`
    /// (the file's directory), and `env` looks up `${NAME}`.
    pub fn parse(
        file: &str,
        text: &str,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Fleet> {
        let options = LoaderOptions::default()
            .error_on_duplicate_keys(true)
            .prevent_coercion(true);
        let root = parse_yaml_with_options(0, text, options).map_err(|e| yaml_error(file, e))?;
        let root = root.as_mapping().ok_or_else(|| {
            mistake(
                at(file, root.span()),
                "a fleet file is a mapping with one key, `databases`",
            )
        })?;
        for (key, _) in root.iter() {
            if key.as_str() != "databases" {
                return Err(mistake(
                    at(file, key.span()),
                    &format!(
                        "unknown key `{}`: a fleet file has only `databases`",
                        key.as_str()
                    ),
                ));
            }
        }
        let Some(databases) = root.get_node("databases") else {
            return Err(mistake(
                at(file, root.span()),
                "no `databases`: list the databases as `databases: {NAME: {url: URL}, …}`",
            ));
        };
        let Some(databases) = databases.as_mapping() else {
            return Err(mistake(
                at(file, databases.span()),
                "`databases` must map each database's name to its `url` (and optional `groups`)",
            ));
        };
        let mut entries = Vec::new();
        for (name, node) in databases.iter() {
            entries.push(read_entry(file, name, node, base, env)?);
        }
        if entries.is_empty() {
            return Err(mistake(
                at(file, databases.span()),
                "`databases` is empty: a fleet needs at least one database",
            ));
        }
        Ok(Fleet { databases: entries })
    }

    /// The databases `--only` names, or those in one of `--group`'s groups; all of them when
    /// neither is given. Names and groups the file does not have are refused.
    pub fn select(&self, only: &[String], groups: &[String]) -> Result<Vec<Entry>> {
        let known_names: Vec<&str> = self.databases.iter().map(|e| e.name.as_str()).collect();
        for name in only {
            if !known_names.contains(&name.as_str()) {
                return Err(Error::Fleet {
                    message: format!("`--only {name}`: the fleet file has no database `{name}`"),
                    hint: format!("its databases: {}", known_names.join(", ")),
                    source: None,
                });
            }
        }
        let known_groups = self.groups();
        for group in groups {
            if !known_groups.contains(group) {
                return Err(Error::Fleet {
                    message: format!(
                        "`--group {group}`: no database of the fleet file is in group `{group}`"
                    ),
                    hint: group_list(&known_groups),
                    source: None,
                });
            }
        }
        Ok(self
            .databases
            .iter()
            .filter(|e| {
                (only.is_empty() && groups.is_empty())
                    || only.contains(&e.name)
                    || e.groups.iter().any(|g| groups.contains(g))
            })
            .cloned()
            .collect())
    }

    /// Every group named in the file, in the order of first mention.
    pub fn groups(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for group in self.databases.iter().flat_map(|e| &e.groups) {
            if !seen.contains(group) {
                seen.push(group.clone());
            }
        }
        seen
    }
}

pub(super) fn group_list(groups: &[String]) -> String {
    if groups.is_empty() {
        "the fleet file puts no database in a group (`groups: [NAME]`)".into()
    } else {
        format!("its groups: {}", groups.join(", "))
    }
}

fn read_entry(
    file: &str,
    name: &MarkedScalarNode,
    node: &Node,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Entry> {
    let label = name.as_str();
    if label.is_empty() || label.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(mistake(
            at(file, name.span()),
            &format!("database name `{label}` must be a non-empty word without spaces"),
        ));
    }
    let Some(map) = node.as_mapping() else {
        return Err(mistake(
            at(file, node.span()),
            &format!("database `{label}` must be a mapping with `url` (and optional `groups`)"),
        ));
    };
    check_fields(file, label, map)?;
    let url_node = map.get_node("url").ok_or_else(|| {
        mistake(
            at(file, map.span()),
            &format!("database `{label}` has no `url`"),
        )
    })?;
    let url_scalar = scalar(file, label, "url", url_node)?;
    let url = expand(file, url_scalar, env, Encode::InsideUrl)?;
    let target = Target::parse(&url).map_err(|e| {
        // The error masks the password; the position says which entry it is.
        Error::FleetFile {
            at: at(file, url_scalar.span()),
            message: format!("database `{label}`: {e}"),
            hint: e.hint(),
            source: Some(Box::new(e)),
        }
    })?;
    let groups = match map.get_node("groups") {
        None => Vec::new(),
        Some(Node::Sequence(items)) => {
            let mut groups: Vec<String> = Vec::new();
            for item in items.iter() {
                let group = scalar(file, label, "groups", item)?.as_str().to_string();
                if !groups.contains(&group) {
                    groups.push(group);
                }
            }
            groups
        }
        Some(other) => vec![scalar(file, label, "groups", other)?.as_str().to_string()],
    };
    let migrations = match map.get_node("migrations") {
        None => None,
        Some(node) => {
            let path = expand(
                file,
                scalar(file, label, "migrations", node)?,
                env,
                Encode::Never,
            )?;
            Some(base.join(path))
        }
    };
    Ok(Entry {
        name: label.to_string(),
        shown_url: target.display(),
        target,
        groups,
        migrations,
    })
}

fn check_fields(file: &str, label: &str, map: &MarkedMappingNode) -> Result<()> {
    for (key, _) in map.iter() {
        if !["url", "groups", "migrations"].contains(&key.as_str()) {
            return Err(Error::FleetFile {
                at: at(file, key.span()),
                message: format!("database `{label}` has unknown field `{}`", key.as_str()),
                hint: Some(format!("a database takes: {ENTRY_FIELDS}")),
                source: None,
            });
        }
    }
    Ok(())
}

fn scalar<'a>(
    file: &str,
    label: &str,
    field: &str,
    node: &'a Node,
) -> Result<&'a MarkedScalarNode> {
    node.as_scalar().ok_or_else(|| {
        mistake(
            at(file, node.span()),
            &format!("`{field}` of database `{label}` must be a plain value"),
        )
    })
}

/// Whether a variable's value is percent-encoded where it goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encode {
    /// In a URL, unless the variable is the whole value (a whole URL).
    InsideUrl,
    /// A path: taken as it is.
    Never,
}

/// Replaces each `${NAME}` with the variable's value. A variable that is the whole value is
/// taken as it is (a whole URL); one inside a URL is percent-encoded, so that a password
/// holding `@`, `:` or `/` still reads as a password.
fn expand(
    file: &str,
    value: &MarkedScalarNode,
    env: &dyn Fn(&str) -> Option<String>,
    encode: Encode,
) -> Result<String> {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let text = value.as_str();
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(mistake(
                at(file, value.span()),
                "`${` without its closing `}`",
            ));
        };
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(mistake(
                at(file, value.span()),
                &format!(
                    "`${{{name}}}` is not an environment variable's name (letters, digits, `_`)"
                ),
            ));
        }
        let Some(found) = env(name) else {
            return Err(Error::FleetFile {
                source: None,
                at: at(file, value.span()),
                message: format!("environment variable `{name}` is not set"),
                hint: Some(format!(
                    "set `{name}` (the fleet file takes secrets from the environment)"
                )),
            });
        };
        let whole = text.trim() == format!("${{{name}}}");
        if whole || encode == Encode::Never {
            out.push_str(&found);
        } else {
            // Unreserved characters stay as they are: host names and user names read the same.
            let encoded = utf8_percent_encode(&found, NON_ALPHANUMERIC)
                .to_string()
                .replace("%2D", "-")
                .replace("%2E", ".")
                .replace("%5F", "_")
                .replace("%7E", "~");
            out.push_str(&encoded);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn mistake(at: Location, message: &str) -> Error {
    Error::FleetFile {
        at,
        message: message.to_string(),
        hint: None,
        source: None,
    }
}

fn yaml_error(file: &str, e: LoadError) -> Error {
    let (place, message) = load_error(file, &e, |key, first| {
        format!("`{key}` is named twice: first at {first}")
    });
    Error::FleetFile {
        at: place,
        message,
        hint: None,
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SITE_A_PASSWORD" => Some("p@ss:w/rd".into()),
            "WHOLE_URL" => Some("postgres://u:hidden@127.0.0.1:5432/whole".into()),
            "MIGRATIONS_ROOT" => Some("/srv/plant migrations".into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Fleet> {
        Fleet::parse("fleet.yaml", text, Path::new("/etc/plant"), &env)
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => format!("{e}\nhint: {}", e.hint().unwrap_or_default()),
        }
    }

    #[test]
    fn reads_entries_in_file_order_with_groups_secrets_and_migrations() {
        let fleet = parse(
            "databases:\n  \
               site-b: {url: \"postgres://plant:${SITE_A_PASSWORD}@127.0.0.1:5433/b\", groups: [canary, east]}\n  \
               site-a:\n    url: sqlite://a.sqlite3\n    migrations: site-a-migrations\n  \
               whole: {url: \"${WHOLE_URL}\", groups: east, migrations: \"${MIGRATIONS_ROOT}/whole\"}\n",
        )
        .unwrap();
        let names: Vec<&str> = fleet.databases.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["site-b", "site-a", "whole"]);
        let b = &fleet.databases[0];
        assert_eq!(b.groups, ["canary", "east"]);
        let Target::Postgres(pg) = &b.target else {
            panic!("not postgres")
        };
        // The secret reached the driver whole, though it holds `@`, `:` and `/`.
        assert_eq!(pg.config.get_password(), Some("p@ss:w/rd".as_bytes()));
        assert_eq!(pg.dbname(), "b");
        assert!(
            !b.shown_url.contains("p@ss") && !b.shown_url.contains("p%40ss"),
            "{}",
            b.shown_url
        );
        assert_eq!(
            fleet.databases[1].migrations.as_deref(),
            Some(Path::new("/etc/plant/site-a-migrations"))
        );
        // A path takes the variable as it is: no percent-encoding.
        assert_eq!(
            fleet.databases[2].migrations.as_deref(),
            Some(Path::new("/srv/plant migrations/whole"))
        );
        assert_eq!(
            fleet.databases[2].shown_url,
            "postgres://u:****@127.0.0.1:5432/whole"
        );
        assert_eq!(fleet.groups(), ["canary", "east"]);
    }

    #[test]
    fn mistakes_name_the_place_in_the_file() {
        let unknown_var = error("databases:\n  a: {url: \"postgres://u:${NOPE}@127.0.0.1/a\"}\n");
        assert!(
            unknown_var.starts_with("fleet.yaml:2:") && unknown_var.contains("`NOPE` is not set"),
            "{unknown_var}"
        );
        let duplicate = error("databases:\n  a: {url: sqlite://a}\n  a: {url: sqlite://b}\n");
        assert!(
            duplicate.starts_with("fleet.yaml:3:3")
                && duplicate.contains("first at fleet.yaml:2:3"),
            "{duplicate}"
        );
        let no_url = error("databases:\n  a: {groups: [x]}\n");
        assert!(
            no_url.starts_with("fleet.yaml:2:") && no_url.contains("no `url`"),
            "{no_url}"
        );
        let typo = error("databases:\n  a: {url: sqlite://a, group: [x]}\n");
        assert!(
            typo.starts_with("fleet.yaml:2:")
                && typo.contains("unknown field `group`")
                && typo.contains("groups"),
            "{typo}"
        );
        let bad_url = error("databases:\n  a:\n    url: \"mysql://root:topsecret@127.0.0.1/x\"\n");
        assert!(
            bad_url.starts_with("fleet.yaml:3:10")
                && bad_url.contains("database `a`")
                && !bad_url.contains("topsecret"),
            "{bad_url}"
        );
        let syntax = error("databases:\n  a: {url: sqlite://a\n");
        assert!(
            syntax.starts_with("fleet.yaml:") && syntax.contains("YAML"),
            "{syntax}"
        );
        let top = error("sites:\n  a: {url: sqlite://a}\n");
        assert!(
            top.starts_with("fleet.yaml:1:1") && top.contains("unknown key `sites`"),
            "{top}"
        );
        let empty = error("databases: {}\n");
        assert!(empty.contains("empty"), "{empty}");
    }

    #[test]
    fn selection_by_name_or_group_keeps_file_order_and_refuses_unknowns() {
        let fleet = parse(
            "databases:\n  a: {url: sqlite://a, groups: [canary]}\n  b: {url: sqlite://b, groups: [east]}\n  \
             c: {url: sqlite://c, groups: [east, canary]}\n  d: {url: sqlite://d}\n",
        )
        .unwrap();
        let names = |v: Vec<Entry>| v.into_iter().map(|e| e.name).collect::<Vec<_>>();
        assert_eq!(names(fleet.select(&[], &[]).unwrap()), ["a", "b", "c", "d"]);
        assert_eq!(
            names(fleet.select(&["d".into(), "a".into()], &[]).unwrap()),
            ["a", "d"]
        );
        assert_eq!(
            names(fleet.select(&[], &["east".into()]).unwrap()),
            ["b", "c"]
        );
        let unknown = fleet.select(&["zz".into()], &[]).unwrap_err();
        assert!(
            unknown.to_string().contains("no database `zz`"),
            "{unknown}"
        );
        assert!(unknown.hint().unwrap().contains("a, b, c, d"));
        let group = fleet.select(&[], &["west".into()]).unwrap_err();
        assert!(group.hint().unwrap().contains("canary, east"), "{group:?}");
    }
}
