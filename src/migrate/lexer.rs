//! A SQL lexer just deep enough to split a script into statements and see each statement's
//! words, so that migrations can be checked before anything runs. It knows everything that can
//! hide a semicolon or a keyword:
//!
//! - `'…'` strings with `''` escapes, and on PostgreSQL `E'…'` strings with backslash escapes;
//! - `"quoted identifiers"`, and on SQLite `[…]` and `` `…` `` identifiers;
//! - on PostgreSQL `$tag$ … $tag$` dollar quotes (function bodies);
//! - `--` comments, and `/* */` comments (nested on PostgreSQL, as its lexer does);
//! - bodies whose semicolons do not end the statement: PostgreSQL `BEGIN ATOMIC … END`
//!   function bodies and SQLite `CREATE TRIGGER … BEGIN … END` bodies, with the `CASE … END`
//!   expressions inside them (the same rule psql uses to split scripts).
//!
//! Unterminated strings and comments run to the end of the script, as the databases read
//! them; the database reports the syntax error when the script runs.

use crate::db::Dialect;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// An unquoted word: a keyword or an identifier, upper-cased.
    Word(String),
    /// A string, a quoted identifier, a number or a parameter: never a keyword.
    Literal,
    /// Any other character: operators, commas, parentheses.
    Symbol(char),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// 1-based line and column (in characters) where the token starts.
    pub line: usize,
    pub column: usize,
    /// How many parentheses enclose the token.
    pub depth: usize,
    /// Byte offsets of the token in the script: `start..end`.
    pub start: usize,
    pub end: usize,
}

/// One statement, without comments and without its closing semicolon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub tokens: Vec<Token>,
}

impl Statement {
    /// Where the statement starts.
    pub fn position(&self) -> (usize, usize) {
        self.tokens
            .first()
            .map_or((1, 1), |token| (token.line, token.column))
    }

    /// The statement's text in `sql` (the script it was read from), from its first token to its
    /// last, without the semicolon: what to send to run it on its own.
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.span()]
    }

    /// Byte offsets of [`Statement::text`] in the script.
    pub fn span(&self) -> std::ops::Range<usize> {
        match (self.tokens.first(), self.tokens.last()) {
            (Some(first), Some(last)) => first.start..last.end,
            _ => 0..0,
        }
    }

    /// The unquoted words outside any parentheses, upper-cased, in order. Empty when the
    /// statement does not start with a word (e.g. `(SELECT 1)`): no statement that matters to
    /// the checks starts otherwise.
    pub fn words(&self) -> Vec<&str> {
        if !matches!(
            self.tokens.first(),
            Some(Token {
                kind: TokenKind::Word(_),
                ..
            })
        ) {
            return Vec::new();
        }
        self.tokens
            .iter()
            .filter(|token| token.depth == 0)
            .filter_map(|token| match &token.kind {
                TokenKind::Word(word) => Some(word.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Splits `sql` into statements as `dialect` reads it. Empty statements (`;;`) are left out.
pub fn statements(sql: &str, dialect: Dialect) -> Vec<Statement> {
    let mut lexer = Lexer {
        chars: sql.chars().collect(),
        at: 0,
        byte: 0,
        line: 1,
        column: 1,
        dialect,
    };
    let mut statements = Vec::new();
    let mut current = StatementState::default();
    while let Some(token) = lexer.next_token(current.paren_depth) {
        match token.kind {
            TokenKind::Symbol(';') if current.paren_depth == 0 && current.block_depth == 0 => {
                let done = std::mem::take(&mut current);
                if !done.tokens.is_empty() {
                    statements.push(Statement {
                        tokens: done.tokens,
                    });
                }
            }
            _ => current.push(token, dialect),
        }
    }
    if !current.tokens.is_empty() {
        statements.push(Statement {
            tokens: current.tokens,
        });
    }
    statements
}

#[derive(Default)]
struct StatementState {
    tokens: Vec<Token>,
    paren_depth: usize,
    /// Open `BEGIN`/`CASE` blocks of a body whose semicolons belong to the statement.
    block_depth: usize,
    /// Whether the body's BEGIN was seen: a trigger has one body.
    body_opened: bool,
}

impl StatementState {
    fn push(&mut self, token: Token, dialect: Dialect) {
        match &token.kind {
            TokenKind::Symbol('(') => self.paren_depth += 1,
            TokenKind::Symbol(')') => self.paren_depth = self.paren_depth.saturating_sub(1),
            TokenKind::Word(word) if token.depth == 0 && self.has_body(dialect) => {
                // BEGIN and END are also names (a function or trigger called `begin`, a column
                // `NEW.end`): only the body's own BEGIN opens it, or the statements after it
                // would be swallowed unchecked.
                let previous = self.tokens.last().map(|token| &token.kind);
                let after_dot = previous == Some(&TokenKind::Symbol('.'));
                match word.as_str() {
                    // PostgreSQL: the body is `BEGIN ATOMIC`.
                    "ATOMIC"
                        if dialect == Dialect::Postgres
                            && previous == Some(&TokenKind::Word("BEGIN".into())) =>
                    {
                        self.block_depth += 1;
                    }
                    // SQLite: the first BEGIN that is not the trigger's or the table's name.
                    "BEGIN"
                        if dialect == Dialect::Sqlite
                            && !self.body_opened
                            && !after_dot
                            && !matches!(
                                previous,
                                Some(TokenKind::Word(w)) if matches!(w.as_str(), "TRIGGER" | "EXISTS" | "ON")
                            ) =>
                    {
                        self.block_depth += 1;
                        self.body_opened = true;
                    }
                    // CASE also ends with END; it only matters inside a body.
                    "CASE" if self.block_depth > 0 => self.block_depth += 1,
                    "END" if !after_dot => self.block_depth = self.block_depth.saturating_sub(1),
                    _ => {}
                }
            }
            _ => {}
        }
        self.tokens.push(token);
    }

    /// Whether the statement so far is one that can hold a `BEGIN … END` body:
    /// `CREATE [OR REPLACE] FUNCTION|PROCEDURE` on PostgreSQL (`BEGIN ATOMIC`),
    /// `CREATE [TEMP|TEMPORARY] TRIGGER` on SQLite.
    fn has_body(&self, dialect: Dialect) -> bool {
        let mut words = self.tokens.iter().map(|token| match &token.kind {
            TokenKind::Word(word) => word.as_str(),
            _ => "",
        });
        if words.next() != Some("CREATE") {
            return false;
        }
        match dialect {
            Dialect::Postgres => {
                let mut next = words.next();
                if next == Some("OR") {
                    if words.next() != Some("REPLACE") {
                        return false;
                    }
                    next = words.next();
                }
                matches!(next, Some("FUNCTION" | "PROCEDURE"))
            }
            Dialect::Sqlite => {
                let mut next = words.next();
                if matches!(next, Some("TEMP" | "TEMPORARY")) {
                    next = words.next();
                }
                next == Some("TRIGGER")
            }
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    /// The byte offset of `chars[at]`.
    byte: usize,
    line: usize,
    column: usize,
    dialect: Dialect,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.at += 1;
        self.byte += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn bump_while(&mut self, keep: impl Fn(char) -> bool) {
        while self.peek(0).is_some_and(&keep) {
            self.bump();
        }
    }

    /// The next token, skipping white space and comments; `None` at the end.
    fn next_token(&mut self, depth: usize) -> Option<Token> {
        self.skip_space_and_comments();
        let (line, column, start) = (self.line, self.column, self.byte);
        let c = self.bump()?;
        let kind = match c {
            '\'' => {
                self.quoted('\'', false);
                TokenKind::Literal
            }
            '"' => {
                self.quoted('"', false);
                TokenKind::Literal
            }
            '[' if self.dialect == Dialect::Sqlite => {
                self.bump_while(|c| c != ']');
                self.bump();
                TokenKind::Literal
            }
            '`' if self.dialect == Dialect::Sqlite => {
                self.quoted('`', false);
                TokenKind::Literal
            }
            '$' if self.dialect == Dialect::Postgres => self.dollar(),
            c if c.is_ascii_digit() => {
                self.bump_while(|c| c.is_alphanumeric() || c == '_' || c == '.');
                TokenKind::Literal
            }
            c if is_word_start(c) => {
                let start = self.at - 1;
                let postgres = self.dialect == Dialect::Postgres;
                // PostgreSQL identifiers may contain `$` after the first character.
                self.bump_while(|c| is_word_part(c) || (postgres && c == '$'));
                let word: String = self.chars[start..self.at].iter().collect();
                if postgres && word.eq_ignore_ascii_case("e") && self.peek(0) == Some('\'') {
                    self.bump();
                    self.quoted('\'', true);
                    TokenKind::Literal
                } else {
                    TokenKind::Word(word.to_uppercase())
                }
            }
            c => TokenKind::Symbol(c),
        };
        Some(Token {
            kind,
            line,
            column,
            start,
            end: self.byte,
            // A closing parenthesis belongs to the level it closes back to.
            depth: if c == ')' {
                depth.saturating_sub(1)
            } else {
                depth
            },
        })
    }

    fn skip_space_and_comments(&mut self) {
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('-'), Some('-')) => {
                    // PostgreSQL ends a `--` comment at a carriage return too; SQLite only at a
                    // line feed.
                    let cr_ends = self.dialect == Dialect::Postgres;
                    self.bump_while(|c| c != '\n' && !(cr_ends && c == '\r'));
                }
                (Some('/'), Some('*')) => self.block_comment(),
                _ => return,
            }
        }
    }

    /// `/* … */`; PostgreSQL nests them, SQLite ends at the first `*/`.
    fn block_comment(&mut self) {
        self.bump();
        self.bump();
        let mut depth = 1;
        while depth > 0 {
            match (self.peek(0), self.peek(1)) {
                (None, _) => return,
                (Some('*'), Some('/')) => {
                    self.bump();
                    self.bump();
                    depth -= 1;
                }
                (Some('/'), Some('*')) if self.dialect == Dialect::Postgres => {
                    self.bump();
                    self.bump();
                    depth += 1;
                }
                _ => {
                    self.bump();
                }
            }
        }
    }

    /// The rest of a quoted token whose opening `quote` was read: a doubled quote stands for
    /// itself, and with `backslash` a backslash escapes the next character.
    fn quoted(&mut self, quote: char, backslash: bool) {
        while let Some(c) = self.bump() {
            if backslash && c == '\\' {
                self.bump();
            } else if c == quote {
                if self.peek(0) == Some(quote) {
                    self.bump();
                } else {
                    return;
                }
            }
        }
    }

    /// After a `$` on PostgreSQL: a parameter (`$1`), a dollar-quoted string (`$$…$$`,
    /// `$tag$…$tag$`), or a lone `$`.
    fn dollar(&mut self) -> TokenKind {
        if self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            self.bump_while(|c| c.is_ascii_digit());
            return TokenKind::Literal;
        }
        // The tag: empty, or an identifier without `$`.
        let mut length = 0;
        if self.peek(0).is_some_and(is_word_start) {
            length = 1;
            while self.peek(length).is_some_and(is_word_part) {
                length += 1;
            }
        }
        if self.peek(length) != Some('$') {
            return TokenKind::Symbol('$');
        }
        let mut delimiter: Vec<char> = vec!['$'];
        delimiter.extend(&self.chars[self.at..self.at + length + 1]);
        for _ in 0..=length {
            self.bump();
        }
        while self.peek(0).is_some() {
            if self.chars[self.at..].starts_with(&delimiter) {
                for _ in 0..delimiter.len() {
                    self.bump();
                }
                return TokenKind::Literal;
            }
            self.bump();
        }
        TokenKind::Literal
    }
}

fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_word_part(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(sql: &str, dialect: Dialect) -> Vec<String> {
        statements(sql, dialect)
            .iter()
            .map(|s| s.words().join(" "))
            .collect()
    }

    fn pg(sql: &str) -> Vec<String> {
        split(sql, Dialect::Postgres)
    }

    fn lite(sql: &str) -> Vec<String> {
        split(sql, Dialect::Sqlite)
    }

    #[test]
    fn splits_on_semicolons_and_upper_cases_words() {
        assert_eq!(
            pg("create table a (id int);\nCommit;  ;\n select 1"),
            vec!["CREATE TABLE A", "COMMIT", "SELECT"]
        );
    }

    #[test]
    fn strings_hide_semicolons_and_keywords() {
        assert_eq!(
            pg("INSERT INTO t VALUES ('a; COMMIT; it''s'); SELECT 1"),
            vec!["INSERT INTO T VALUES", "SELECT"]
        );
        assert_eq!(
            lite("INSERT INTO t VALUES ('x'';COMMIT;'); END"),
            vec!["INSERT INTO T VALUES", "END"]
        );
    }

    #[test]
    fn escape_strings_use_backslashes_on_postgres_only() {
        // E'\';COMMIT;' is one string on PostgreSQL: the backslash escapes the quote.
        assert_eq!(
            pg("SELECT E'\\';COMMIT;'; SELECT 2"),
            vec!["SELECT", "SELECT"]
        );
        assert_eq!(pg("SELECT e'a\\\\'; COMMIT"), vec!["SELECT", "COMMIT"]);
        // SQLite has no escape strings: `E` is a word and the backslash is plain text.
        assert_eq!(lite("SELECT E'\\'; COMMIT"), vec!["SELECT E", "COMMIT"]);
        // A word ending in e is not an escape-string prefix.
        assert_eq!(pg("SELECT name'\\'; COMMIT"), vec!["SELECT NAME", "COMMIT"]);
    }

    #[test]
    fn quoted_identifiers_are_not_words() {
        assert_eq!(
            pg("CREATE TABLE \"commit;\"\"x\" (id int); \"COMMIT\""),
            vec!["CREATE TABLE", ""]
        );
        assert_eq!(
            lite("CREATE TABLE [a;b] (`c;``d` int); COMMIT"),
            vec!["CREATE TABLE", "COMMIT"]
        );
    }

    #[test]
    fn dollar_quotes_hide_whole_function_bodies() {
        let sql = "CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  COMMIT;\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\nDO $body$ BEGIN PERFORM 1; END $body$;\nCOMMIT;";
        assert_eq!(
            pg(sql),
            vec![
                "CREATE FUNCTION F RETURNS TRIGGER AS LANGUAGE PLPGSQL",
                "DO",
                "COMMIT"
            ]
        );
        // A different tag inside does not end the quote; `$1` is a parameter, not a quote.
        assert_eq!(
            pg("SELECT $a$ $b$ ; $b$ $a$, $1; VACUUM"),
            vec!["SELECT", "VACUUM"]
        );
        // Identifiers may contain `$`, which then opens no quote.
        assert_eq!(
            pg("SELECT a$b$ FROM t; VACUUM"),
            vec!["SELECT A$B$ FROM T", "VACUUM"]
        );
        // SQLite has no dollar quotes.
        assert_eq!(lite("SELECT $$; COMMIT"), vec!["SELECT", "COMMIT"]);
    }

    #[test]
    fn comments_hide_semicolons_and_nest_on_postgres_only() {
        assert_eq!(
            pg("-- COMMIT;\nSELECT 1 /* ; COMMIT; /* nested; */ still; */ ; END"),
            vec!["SELECT", "END"]
        );
        // SQLite ends a comment at the first */.
        assert_eq!(lite("SELECT 1 /* /* */ ; COMMIT"), vec!["SELECT", "COMMIT"]);
        assert_eq!(pg("SELECT 1 -- COMMIT;"), vec!["SELECT"]);
    }

    #[test]
    fn postgres_begin_atomic_bodies_with_case_stay_one_statement() {
        let sql = "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT x;\nEND;\nCOMMIT;";
        let split = pg(sql);
        assert_eq!(split.len(), 2, "{split:?}");
        assert!(split[0].starts_with("CREATE OR REPLACE FUNCTION"));
        assert_eq!(split[1], "COMMIT");
        let procedure = "CREATE PROCEDURE p() BEGIN ATOMIC INSERT INTO t VALUES (1); END; ROLLBACK";
        assert_eq!(pg(procedure).len(), 2);
        // BEGIN in other statements is not a body.
        assert_eq!(pg("BEGIN; SELECT 1; END;"), vec!["BEGIN", "SELECT", "END"]);
    }

    #[test]
    fn sqlite_trigger_bodies_with_case_stay_one_statement() {
        let sql = "CREATE TRIGGER t_touch AFTER UPDATE ON t FOR EACH ROW\n  WHEN CASE WHEN NEW.a IS NULL THEN 0 ELSE 1 END\nBEGIN\n  UPDATE t SET b = CASE WHEN NEW.a > 1 THEN 'x;' ELSE 'y' END WHERE id = NEW.id;\n  SELECT CASE 1 WHEN 1 THEN (SELECT CASE WHEN 1 THEN 2 END) END;\nEND;\nEND TRANSACTION;";
        let split = lite(sql);
        assert_eq!(split.len(), 2, "{split:?}");
        assert!(split[0].starts_with("CREATE TRIGGER T_TOUCH"));
        assert_eq!(split[1], "END TRANSACTION");
        assert_eq!(
            lite("CREATE TEMP TRIGGER x AFTER INSERT ON t BEGIN DELETE FROM u; END; VACUUM").len(),
            2
        );
    }

    #[test]
    fn a_carriage_return_ends_a_line_comment_on_postgres_only() {
        assert_eq!(
            pg("CREATE TABLE a (id int);\n-- note\rCOMMIT;\nSELECT 1"),
            vec!["CREATE TABLE A", "COMMIT", "SELECT"]
        );
        assert_eq!(
            lite("SELECT 1;\n-- note\rCOMMIT;\nSELECT 2"),
            vec!["SELECT", "SELECT"]
        );
    }

    #[test]
    fn a_function_or_trigger_named_begin_opens_no_body() {
        // BEGIN is only a keyword to PostgreSQL when ATOMIC follows it; as a name it must not
        // hide the statements after it.
        assert_eq!(
            pg("CREATE FUNCTION begin() RETURNS int AS 'SELECT 1' LANGUAGE sql; COMMIT; SELECT 1"),
            vec![
                "CREATE FUNCTION BEGIN RETURNS INT AS LANGUAGE SQL",
                "COMMIT",
                "SELECT"
            ]
        );
        assert_eq!(
            pg("CREATE FUNCTION s.begin(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT x; END; COMMIT")
                .len(),
            2
        );
        // SQLite: a trigger, its table or a column may be called begin or end.
        for sql in [
            "CREATE TRIGGER begin AFTER INSERT ON t BEGIN SELECT 1; END; COMMIT",
            "CREATE TRIGGER IF NOT EXISTS begin AFTER INSERT ON t BEGIN SELECT 1; END; COMMIT",
            "CREATE TRIGGER main.begin UPDATE ON t BEGIN SELECT 1; END; COMMIT",
            "CREATE TRIGGER x AFTER INSERT ON begin BEGIN SELECT 1; END; COMMIT",
            "CREATE TRIGGER x AFTER UPDATE ON t WHEN NEW.begin > OLD.end BEGIN SELECT NEW.end; END; COMMIT",
        ] {
            let split = lite(sql);
            assert_eq!(split.len(), 2, "{sql}: {split:?}");
            assert_eq!(split[1], "COMMIT", "{sql}");
        }
    }

    #[test]
    fn words_skip_parentheses_and_positions_are_lines_and_columns() {
        let statements = statements(
            "SELECT 1;\n\n  REINDEX (VERBOSE) TABLE CONCURRENTLY t;",
            Dialect::Postgres,
        );
        assert_eq!(
            statements[1].words(),
            vec!["REINDEX", "TABLE", "CONCURRENTLY", "T"]
        );
        assert_eq!(statements[1].position(), (3, 3));
        assert_eq!(statements[0].position(), (1, 1));
        // Semicolons inside parentheses do not split (e.g. CREATE RULE … DO (…; …)).
        assert_eq!(
            pg(
                "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO u VALUES (1); DELETE FROM v); COMMIT"
            ),
            vec!["CREATE RULE R AS ON INSERT TO T DO ALSO", "COMMIT"]
        );
    }

    #[test]
    fn unterminated_quotes_and_comments_run_to_the_end() {
        assert_eq!(pg("SELECT 'abc; COMMIT"), vec!["SELECT"]);
        assert_eq!(pg("SELECT $x$ abc; COMMIT"), vec!["SELECT"]);
        assert_eq!(pg("SELECT 1 /* /* */ ; COMMIT"), vec!["SELECT"]);
        assert_eq!(lite("SELECT [abc; COMMIT"), vec!["SELECT"]);
    }

    #[test]
    fn statement_text_is_the_statement_without_comments_around_it_or_its_semicolon() {
        let sql = "-- header\nCREATE INDEX CONCURRENTLY i1 ON a (id);\n/* why */ CREATE INDEX CONCURRENTLY \"é\" ON a (x) -- trailing\n;\n";
        let texts: Vec<&str> = statements(sql, Dialect::Postgres)
            .iter()
            .map(|s| s.text(sql))
            .collect();
        assert_eq!(
            texts,
            vec![
                "CREATE INDEX CONCURRENTLY i1 ON a (id)",
                "CREATE INDEX CONCURRENTLY \"é\" ON a (x)"
            ]
        );
    }

    #[test]
    fn multibyte_text_keeps_columns_in_characters() {
        let statements = statements("SELECT 'é';  COMMIT", Dialect::Sqlite);
        assert_eq!(statements[1].position(), (1, 14));
    }
}
