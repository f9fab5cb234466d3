//! Text from databases and files made safe for a terminal. A migration name in the history
//! table, a server's error message or a file name may hold control characters: printed raw, an
//! escape sequence recolours or clears the screen, and a line break fakes output lines. Text
//! output shows them escaped instead (`\x1b`, `\n`, `\u{202e}`); JSON output needs nothing, as
//! JSON escapes them itself and programs read the exact value.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character escaped, line breaks included: for one value inside a
/// line (a name, a checksum, a server message).
pub fn printable(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// `text` with control characters escaped except line breaks and tabs: for text whose lines
/// are meant (a message plantdb composed of several lines, SQL shown by a dry run).
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

fn escape(text: &str, keep_lines: bool) -> Cow<'_, str> {
    let kept = |c: char| keep_lines && (c == '\n' || c == '\t');
    if !text.chars().any(|c| needs_escape(c) && !kept(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !needs_escape(c) || kept(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

/// Control characters (C0, DEL, C1), and the invisible characters that reorder or break
/// lines on a terminal: bidirectional overrides and isolates, line and paragraph separators.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_and_leaves_the_rest_alone() {
        assert!(matches!(printable("create_plants"), Cow::Borrowed(_)));
        assert_eq!(printable("päx ✓ \\n"), "päx ✓ \\n");
        assert_eq!(
            printable("a\x1b[31mred\x1b[0m\r\nfake\tline\x7f\u{9b}"),
            "a\\x1b[31mred\\x1b[0m\\r\\nfake\\tline\\x7f\\x9b"
        );
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn printable_lines_keeps_line_breaks_and_tabs_only() {
        assert_eq!(
            printable_lines("one\n\ttwo\x1b[2J\r"),
            "one\n\ttwo\\x1b[2J\\r"
        );
    }
}
