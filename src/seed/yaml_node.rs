//! Parsed YAML nodes as fixtures use them: where a node stands, whether it is null, its JSON,
//! and the error that points at a place in a fixture file.

use std::sync::Arc;

use marked_yaml::types::{MarkedScalarNode, Node};
use marked_yaml::{LoadError, Span};

use crate::error::{Error, Location};

/// Where `span` starts in `file`, as messages name it.
pub fn at(file: &str, span: &Span) -> Location {
    at_in(&Arc::from(file), span)
}

/// [`at`] for a file whose name is shared by all its places, as rows keep them.
pub fn at_in(file: &Arc<str>, span: &Span) -> Location {
    let (line, column) = span.start().map_or((0, 0), |m| (m.line(), m.column()));
    Location {
        file: Arc::clone(file),
        line,
        column,
    }
}

/// Where a YAML file failed to load, and why, in the words messages use: fixtures and fleet
/// files report their syntax errors alike, and word a duplicate key their own way
/// (`duplicate(key, first place)`).
pub fn load_error(
    file: &str,
    e: &LoadError,
    duplicate: impl Fn(&str, &Location) -> String,
) -> (Location, String) {
    let place = |line, column| Location {
        file: file.into(),
        line,
        column,
    };
    match e {
        LoadError::ScanError(marker, scan) => (
            place(marker.line(), marker.column()),
            format!("YAML syntax error: {}", scan.info()),
        ),
        LoadError::DuplicateKey(inner) => {
            let first = at(file, inner.prev_key.span());
            (
                at(file, inner.key.span()),
                duplicate(inner.key.as_str(), &first),
            )
        }
        LoadError::TopLevelMustBeMapping(m)
        | LoadError::TopLevelMustBeSequence(m)
        | LoadError::UnexpectedAnchor(m)
        | LoadError::MappingKeyMustBeScalar(m)
        | LoadError::UnexpectedTag(m) => {
            let text = e.to_string();
            // The crate's text starts with its own rendering of the marker; ours replaces it.
            let message = text.split_once(": ").map_or(text.as_str(), |(_, m)| m);
            (
                place(m.line(), m.column()),
                format!("YAML error: {}", message.to_lowercase()),
            )
        }
    }
}

/// A mistake in a fixture, at a place in its file, with what to do about it where that helps.
pub fn fixture_error(at: Location, message: &str, hint: Option<String>) -> Error {
    Error::Fixture {
        at,
        message: message.to_string(),
        hint,
        source: None,
    }
}

/// A fixture error that another error (the YAML parser's, the database's) is behind.
pub fn fixture_error_from(
    at: Location,
    message: &str,
    hint: Option<String>,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::Fixture {
        at,
        message: message.to_string(),
        hint,
        source: Some(source.into()),
    }
}

/// An unquoted `~`, `null` or nothing: YAML's null, which a quoted `"null"` is not.
pub fn is_null(node: &Node) -> bool {
    node.as_scalar().is_some_and(scalar_is_null)
}

fn scalar_is_null(s: &MarkedScalarNode) -> bool {
    s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL")
}

/// YAML to JSON, with YAML's own scalar typing for unquoted values.
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match node {
        Node::Mapping(map) => J::Object(
            map.iter()
                .map(|(k, v)| (k.as_str().to_string(), to_json(v)))
                .collect(),
        ),
        Node::Sequence(seq) => J::Array(seq.iter().map(to_json).collect()),
        Node::Scalar(s) => {
            if !s.may_coerce() {
                return J::String(s.as_str().to_string());
            }
            if scalar_is_null(s) {
                return J::Null;
            }
            if let Some(b) = s.as_bool() {
                return J::Bool(b);
            }
            if let Ok(i) = s.as_str().parse::<i64>() {
                return J::from(i);
            }
            if let Some(n) = s
                .as_str()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                return J::Number(n);
            }
            J::String(s.as_str().to_string())
        }
    }
}
