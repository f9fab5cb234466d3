//! Scanning SQL text for what both dialects report differently, and the canonical forms
//! that let equal designs compare equal: CHECK bodies, index predicates, column defaults.

use super::model::CanonicalType;

/// The bodies of every `CHECK (...)` in `sql`, compacted for comparison: lowercase, without
/// identifier quotes or outer parentheses, single spaces, and no space next to `(`, `)` or `,`.
/// So `CHECK ("is_active" IN (0, 1))` gives `is_active in(0,1)`.
pub fn check_constraints(sql: &str) -> Vec<String> {
    check_bodies(sql).iter().map(|body| compact(body)).collect()
}

/// The bodies of every `CHECK (...)` in `sql` as written, without their outer parentheses.
pub fn check_bodies(sql: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = sql;
    while let Some(at) = find_keyword(rest, "CHECK") {
        let after = rest[at + "CHECK".len()..].trim_start();
        let consumed = rest.len() - after.len();
        if let Some(body) = after
            .starts_with('(')
            .then(|| balanced_prefix(after))
            .flatten()
        {
            found.push(strip_outer_parens(body));
            rest = &after[body.len()..];
        } else {
            rest = &rest[consumed..];
        }
    }
    found
}

/// The text after the top-level `WHERE` of a `CREATE INDEX` statement.
pub fn where_clause(index_sql: &str) -> Option<&str> {
    find_keyword(index_sql, "WHERE").map(|at| index_sql[at + "WHERE".len()..].trim())
}

/// Canonical form of an index predicate: lowercase, no parentheses, no identifier quotes,
/// no PostgreSQL `::type` casts, whitespace collapsed. PostgreSQL's `(deleted_at IS NULL)`
/// and SQLite's `deleted_at IS NULL` both become `deleted_at is null`.
pub fn normalize_predicate(predicate: &str) -> String {
    let without_casts = strip_casts(predicate);
    let cleaned: String = without_casts
        .chars()
        .map(|c| match c {
            '(' | ')' | '"' | '`' | '[' | ']' => ' ',
            other => other,
        })
        .collect();
    cleaned
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Canonical form of a column default, so equal intent compares equal across dialects:
/// - the current time (`now()`, `CURRENT_TIMESTAMP`, `strftime(..., 'now')`) → `now`
/// - a random UUID (`gen_random_uuid()`, SQLite's `randomblob` expression) → `uuid`
/// - a sequence (`nextval(...)`, i.e. serial) → `None`, like an identity
/// - a literal with a cast (`'UTC'::character varying`) → the literal (`'UTC'`)
/// - `true`/`false`, and `1`/`0` on a boolean column → `true`/`false`
/// - a quoted number on a numeric column (`'-1'::integer`) → the number (`-1`)
/// - anything else as written, without outer parentheses.
pub fn canonical_default(raw: &str, ty: &CanonicalType) -> Option<String> {
    let expr = strip_outer_parens(raw.trim()).trim();
    let lower = expr.to_lowercase();
    if expr.is_empty() || lower == "null" || lower.starts_with("null::") {
        return None;
    }
    if lower.contains("nextval(") {
        return None;
    }
    let is_clock = lower.contains("now()")
        || lower.contains("current_timestamp")
        || lower.contains("transaction_timestamp()")
        || lower.contains("statement_timestamp()")
        || lower.contains("clock_timestamp()")
        || ((lower.starts_with("strftime(") || lower.starts_with("datetime("))
            && lower.contains("'now'"));
    if is_clock {
        return Some("now".to_owned());
    }
    if lower.contains("gen_random_uuid()")
        || lower.contains("uuid_generate_v4()")
        || lower.contains("randomblob")
    {
        return Some("uuid".to_owned());
    }

    let literal = strip_outer_parens(strip_casts(expr).trim())
        .trim()
        .to_owned();
    let literal_lower = literal.to_lowercase();
    if *ty == CanonicalType::Boolean {
        match literal_lower.as_str() {
            "true" | "1" | "'t'" | "'true'" => return Some("true".to_owned()),
            "false" | "0" | "'f'" | "'false'" => return Some("false".to_owned()),
            _ => {}
        }
    }
    if literal_lower == "true" || literal_lower == "false" {
        return Some(literal_lower);
    }
    // PostgreSQL shows a negative number default as `'-1'::integer`.
    if matches!(ty, CanonicalType::Integer | CanonicalType::Real)
        && let Some(inner) = literal
            .strip_prefix('\'')
            .and_then(|rest| rest.strip_suffix('\''))
        && inner.parse::<f64>().is_ok()
    {
        return Some(inner.to_owned());
    }
    Some(literal)
}

/// Removes PostgreSQL `::type` casts (including multi-word types such as
/// `character varying` and `timestamp with time zone`) outside string literals.
pub fn strip_casts(sql: &str) -> String {
    const MULTI_WORD: [&str; 5] = [
        "character varying",
        "double precision",
        "timestamp with time zone",
        "timestamp without time zone",
        "time with time zone",
    ];
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.char_indices().peekable();
    let mut in_string = false;
    while let Some((at, c)) = chars.next() {
        if c == '\'' {
            in_string = !in_string;
            out.push(c);
            continue;
        }
        if in_string || c != ':' || !sql[at..].starts_with("::") {
            out.push(c);
            continue;
        }
        let rest = &sql[at + 2..];
        let rest_lower = rest.to_lowercase();
        let skip = MULTI_WORD
            .iter()
            .find(|word| rest_lower.starts_with(*word))
            .map(|word| word.len())
            .unwrap_or_else(|| {
                rest.find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '"'))
                    .unwrap_or(rest.len())
            });
        // Also skip a type modifier such as `(100)` and an array suffix `[]`.
        let mut end = 2 + skip;
        let tail = &sql[at + end..];
        if tail.starts_with('(')
            && let Some(modifier) = balanced_prefix(tail)
        {
            end += modifier.len();
        }
        if sql[at + end..].starts_with("[]") {
            end += 2;
        }
        while chars.peek().is_some_and(|(i, _)| *i < at + end) {
            chars.next();
        }
    }
    out
}

/// Whitespace-insensitive comparison form of a CHECK body (see [`check_constraints`]).
fn compact(body: &str) -> String {
    let unquoted: String = body
        .chars()
        .filter(|c| !matches!(c, '"' | '`' | '[' | ']'))
        .collect();
    let spaced = unquoted
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = String::with_capacity(spaced.len());
    for c in spaced.chars() {
        if c == ' ' && out.ends_with(['(', ',']) {
            continue;
        }
        if matches!(c, '(' | ')' | ',') && out.ends_with(' ') {
            out.pop();
        }
        out.push(c);
    }
    out
}

/// Removes parentheses that wrap the whole expression, as often as they do.
pub fn strip_outer_parens(expr: &str) -> &str {
    let mut expr = expr.trim();
    while expr.starts_with('(') && balanced_prefix(expr).is_some_and(|p| p.len() == expr.len()) {
        expr = expr[1..expr.len() - 1].trim();
    }
    expr
}

/// The prefix of `text` (which starts with `(`) up to and including its matching `)`,
/// skipping string literals and quoted identifiers.
pub fn balanced_prefix(text: &str) -> Option<&str> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(&text[..=at]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Byte offset of the first `keyword` in `sql` that stands as a whole word outside string
/// literals and quoted identifiers, ignoring case.
fn find_keyword(sql: &str, keyword: &str) -> Option<usize> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut quote: Option<char> = None;
    let mut previous: Option<char> = None;
    for (at, c) in sql.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '\'' | '"' | '`') => quote = Some(c),
            None => {
                let candidate = sql.get(at..at + keyword.len());
                if previous.is_none_or(|p| !is_word(p))
                    && candidate.is_some_and(|word| word.eq_ignore_ascii_case(keyword))
                    && sql[at + keyword.len()..]
                        .chars()
                        .next()
                        .is_none_or(|next| !is_word(next))
                {
                    return Some(at);
                }
            }
        }
        previous = Some(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default(raw: &str) -> Option<String> {
        canonical_default(raw, &CanonicalType::Text)
    }

    #[test]
    fn defaults_of_the_current_time_are_now() {
        assert_eq!(default("now()").as_deref(), Some("now"));
        assert_eq!(default("CURRENT_TIMESTAMP").as_deref(), Some("now"));
        assert_eq!(
            default("(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))").as_deref(),
            Some("now")
        );
        assert_eq!(default("strftime('%s', 'now')").as_deref(), Some("now"));
    }

    #[test]
    fn defaults_of_random_uuids_are_uuid() {
        assert_eq!(default("gen_random_uuid()").as_deref(), Some("uuid"));
        let sqlite = "(lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))))";
        assert_eq!(default(sqlite).as_deref(), Some("uuid"));
    }

    #[test]
    fn sequences_have_no_default() {
        assert_eq!(
            canonical_default("nextval('t_id_seq'::regclass)", &CanonicalType::Integer),
            None
        );
        assert_eq!(default("NULL"), None);
        assert_eq!(default("NULL::character varying"), None);
    }

    #[test]
    fn literal_defaults_lose_their_casts() {
        assert_eq!(
            default("'UTC'::character varying").as_deref(),
            Some("'UTC'")
        );
        assert_eq!(
            canonical_default("'{}'::jsonb", &CanonicalType::Json).as_deref(),
            Some("'{}'")
        );
        assert_eq!(default("'UTC'").as_deref(), Some("'UTC'"));
        assert_eq!(
            default("'it''s::odd'::text").as_deref(),
            Some("'it''s::odd'")
        );
        assert_eq!(
            canonical_default("(1883)", &CanonicalType::Integer).as_deref(),
            Some("1883")
        );
        assert_eq!(
            canonical_default("'-1'::integer", &CanonicalType::Integer).as_deref(),
            Some("-1")
        );
        assert_eq!(
            canonical_default("0.5", &CanonicalType::Real).as_deref(),
            Some("0.5")
        );
    }

    #[test]
    fn boolean_defaults_agree_across_dialects() {
        let boolean = CanonicalType::Boolean;
        assert_eq!(canonical_default("true", &boolean).as_deref(), Some("true"));
        assert_eq!(canonical_default("1", &boolean).as_deref(), Some("true"));
        assert_eq!(
            canonical_default("FALSE", &boolean).as_deref(),
            Some("false")
        );
        assert_eq!(canonical_default("0", &boolean).as_deref(), Some("false"));
        // Only on boolean columns is 1 a boolean.
        assert_eq!(
            canonical_default("1", &CanonicalType::Integer).as_deref(),
            Some("1")
        );
    }

    #[test]
    fn checks_are_found_and_compacted() {
        let sql = r#"CREATE TABLE t (
            id INTEGER PRIMARY KEY,
            "is_active" INTEGER NOT NULL DEFAULT 1 CHECK ( "is_active" IN (0 , 1) ),
            settings TEXT CHECK (settings IS NULL OR json_valid(settings)),
            note TEXT DEFAULT 'CHECK (note IN (0, 1))',
            checked INTEGER,
            CHECK(checked in (1,0))
        )"#;
        assert_eq!(
            check_constraints(sql),
            vec![
                "is_active in(0,1)".to_owned(),
                "settings is null or json_valid(settings)".to_owned(),
                "checked in(1,0)".to_owned(),
            ]
        );
    }

    #[test]
    fn predicates_normalize_alike() {
        assert_eq!(
            normalize_predicate("(deleted_at IS NULL)"),
            normalize_predicate("deleted_at IS NULL")
        );
        assert_eq!(
            normalize_predicate("((status)::text = 'active'::text)"),
            "status = 'active'"
        );
        assert_eq!(
            normalize_predicate("\"deleted_at\"  IS\n NULL"),
            "deleted_at is null"
        );
    }

    #[test]
    fn where_clause_is_found_outside_strings() {
        assert_eq!(
            where_clause("CREATE INDEX i ON t (a) WHERE deleted_at IS NULL"),
            Some("deleted_at IS NULL")
        );
        assert_eq!(where_clause("CREATE INDEX \"where\" ON t (a)"), None);
        assert_eq!(where_clause("CREATE INDEX nowhere ON t (a)"), None);
    }
}
