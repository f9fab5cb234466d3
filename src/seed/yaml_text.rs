//! What a fixture file's text must be before the YAML loader reads it.
//!
//! The loader (yaml-rust2's `Parser::load`, which `yaml_stream` reads events from) has three
//! blind spots that would lose data or crash, so the text is checked first, and each problem
//! is reported with file, line and column:
//! - it takes a NUL character for the end of the input, so everything after a NUL would be
//!   dropped without a word; other characters YAML forbids would pass into the data;
//! - it builds nested collections by recursion, so a few ten thousand levels overflow the
//!   stack; nesting is limited to [`MAX_DEPTH`], counted on the parser's event stream, which
//!   does not recurse, before the recursive loader runs;
//! - it reads only the first document of a stream, so a second `---` document would be
//!   ignored.

use yaml_rust2::parser::{Event, Parser};

use super::yaml_node::fixture_error;
use crate::error::{Location, Result};

/// The deepest nesting of mappings and sequences a fixture file may have, counting the file's
/// top-level mapping (tables are level 2, rows 3, columns 4). It leaves 60 levels for a JSON
/// value, far more than any configuration needs, and keeps every reader of a stored document
/// (serde_json stops at 128) able to read it back.
pub const MAX_DEPTH: usize = 64;

/// The byte order mark. YAML allows one at the start of a stream (some Windows editors write
/// it); it is skipped there and refused anywhere else.
const BOM: char = '\u{feff}';

/// The text to parse: `text` without a leading byte order mark, once its characters, nesting
/// and document count are known to be safe for the loader.
pub fn checked<'t>(file: &str, text: &'t str) -> Result<&'t str> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    check_characters(file, text)?;
    check_structure(file, text)?;
    Ok(text)
}

/// Refuses the characters YAML 1.2 does not allow in a stream (anything outside its
/// `c-printable` set: C0 controls other than tab, line feed and carriage return, DEL, C1
/// controls other than NEL, U+FFFE and U+FFFF) and a byte order mark after the start. A
/// control character a value really needs is written as an escape in a double-quoted string.
fn check_characters(file: &str, text: &str) -> Result<()> {
    let (mut line, mut column) = (1, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(what) = forbidden(c) {
            let hint = if c == '\0' {
                "a NUL usually means the file is binary or saved as UTF-16; plantdb reads UTF-8"
                    .to_string()
            } else if c == BOM {
                "remove it; a byte order mark is only allowed at the very start of a file".into()
            } else {
                format!(
                    "write it as the escape \"\\u{:04X}\" in a double-quoted string",
                    u32::from(c)
                )
            };
            return Err(fixture_error(
                Location {
                    file: file.into(),
                    line,
                    column,
                },
                &format!("{what} is not allowed in a YAML file"),
                Some(hint),
            ));
        }
        // Line breaks as YAML counts them: LF, CRLF, or a lone CR.
        let breaks = c == '\n' || (c == '\r' && chars.peek() != Some(&'\n'));
        if breaks {
            line += 1;
            column = 1;
        } else if c != '\r' {
            column += 1;
        }
    }
    Ok(())
}

/// How a forbidden character is named in the error, or `None` for an allowed one.
fn forbidden(c: char) -> Option<String> {
    match c {
        '\0' => Some("a NUL character (U+0000)".into()),
        '\t' | '\n' | '\r' | '\u{85}' => None,
        BOM => Some("a byte order mark (U+FEFF) after the start of the file".into()),
        '\u{1}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => {
            Some(format!("the control character U+{:04X}", u32::from(c)))
        }
        '\u{fffe}' | '\u{ffff}' => Some(format!("the non-character U+{:04X}", u32::from(c))),
        _ => None,
    }
}

/// Refuses nesting deeper than [`MAX_DEPTH`] and a second document. Syntax errors are left
/// to the loader, which reports them at the same place: events come in text order, so the
/// loader never gets deeper than this check let it.
fn check_structure(file: &str, text: &str) -> Result<()> {
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    let mut documents = 0usize;
    let too_deep = |line: usize, column: usize| {
        fixture_error(
            Location {
                file: file.into(),
                line,
                column,
            },
            &format!("mappings and lists are nested more than {MAX_DEPTH} levels deep"),
            Some(format!(
                "plantdb reads at most {MAX_DEPTH} levels, counting the file's top-level mapping"
            )),
        )
    };
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(next) => next,
            // The scanner looks ahead through flow collections (`[[[…`) before it yields
            // their events, and gives up on its own at 256 levels. That is too deep as well;
            // its error has no kind to match, only this text.
            Err(scan) if scan.info() == "recursion limit exceeded" => {
                return Err(too_deep(scan.marker().line(), scan.marker().col() + 1));
            }
            Err(_) => return Ok(()),
        };
        let at = || Location {
            file: file.into(),
            line: mark.line(),
            column: mark.col() + 1,
        };
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(too_deep(mark.line(), mark.col() + 1));
                }
            }
            Event::MappingEnd | Event::SequenceEnd => depth = depth.saturating_sub(1),
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(fixture_error(
                        at(),
                        "a second YAML document starts here; a seed file holds one",
                        Some("put each document in its own file, or merge them".into()),
                    ));
                }
            }
            Event::StreamEnd => return Ok(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        let e = checked("t.yaml", text).unwrap_err();
        format!("{e} | {}", e.hint().unwrap_or_default())
    }

    #[test]
    fn forbidden_characters_are_named_at_their_position() {
        let m = error("plants:\n  a: {name: A}\n  b: {name: B\0x}\n  c: {name: C}\n");
        assert!(
            m.starts_with("t.yaml:3:14: a NUL character (U+0000) is not allowed"),
            "{m}"
        );
        let m = error("plants:\r\n  a: {name: \"A\u{1b}[31m\"}\r\n");
        assert!(
            m.starts_with("t.yaml:2:15: the control character U+001B is not allowed"),
            "{m}"
        );
        assert!(m.contains("\"\\u001B\""), "{m}");
        let m = error("a: b\rc: \u{7f}\n");
        assert!(
            m.starts_with("t.yaml:2:4: the control character U+007F"),
            "{m}"
        );
        let m = error("a: \u{9b}\n");
        assert!(
            m.starts_with("t.yaml:1:4: the control character U+009B"),
            "{m}"
        );
        let m = error("a: b\u{feff}\n");
        assert!(
            m.starts_with("t.yaml:1:5: a byte order mark (U+FEFF)"),
            "{m}"
        );
    }

    #[test]
    fn tabs_line_breaks_escapes_and_a_leading_bom_are_fine() {
        assert_eq!(
            checked("t.yaml", "\u{feff}a:\tb\r\nc: \"\\0 \\x1b é \u{85}\"\n").ok(),
            Some("a:\tb\r\nc: \"\\0 \\x1b é \u{85}\"\n")
        );
    }

    #[test]
    fn nesting_is_limited_in_flow_and_block_style() {
        let ok = format!(
            "a: {}{}\n",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        checked("t.yaml", &ok).unwrap();
        // The 64th bracket opens level 65 (the top-level mapping is level 1).
        let flow = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
        let m = error(&flow);
        assert!(
            m.starts_with("t.yaml:1:67: mappings and lists are nested more than 64 levels deep"),
            "{m}"
        );
        // Deeper than the scanner looks ahead: refused where it gives up.
        let flow = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let m = error(&flow);
        assert!(
            m.starts_with("t.yaml:1:") && m.contains("more than 64 levels"),
            "{m}"
        );
        let block = format!("a:\n  {}x\n", "- ".repeat(100_000));
        let m = error(&block);
        assert!(m.starts_with("t.yaml:2:"), "{m}");
        assert!(m.contains("more than 64 levels"), "{m}");
        let mut mappings = String::new();
        for level in 0..100 {
            mappings.push_str(&format!("{}k{level}:\n", " ".repeat(level)));
        }
        let m = error(&mappings);
        // The mapping at level 65 is the one holding `k64`, on line 65.
        assert!(m.starts_with("t.yaml:65:"), "{m}");
    }

    #[test]
    fn a_second_document_is_refused() {
        let m = error("---\nplants: {a: {name: A}}\n---\nplants: {b: {name: B}}\n");
        assert!(
            m.starts_with("t.yaml:3:1: a second YAML document starts here"),
            "{m}"
        );
    }
}
