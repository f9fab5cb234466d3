//! Fixture files read as the YAML parser's stream of events, so that a file is never held as
//! one tree with a position in every node (about 40 bytes per byte of file): only one row's
//! value is a tree at a time, and it is handed on as soon as it is complete.
//!
//! A file is read twice. [`check`] walks the events as marked-yaml's loader does and finds
//! the same mistakes, at the same places, in the same order of precedence: a syntax error
//! anywhere, else the first tag, anchor, non-scalar key, duplicate key or top level that is
//! not a mapping. Only then does [`read`] hand the tables and rows to a [`Sink`], so every
//! mistake in the YAML itself is reported before any mistake in the fixtures, as when the
//! whole tree was built first.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use marked_yaml::LoadError;
use marked_yaml::loader::DuplicateKeyInner;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{Marker, Node, Span};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker as YamlMarker, TScalarStyle};

use crate::error::Result;

/// A position as marked-yaml gives it: `source` is the file's index, columns count from 1.
fn marker(source: usize, mark: YamlMarker) -> Marker {
    Marker::new(source, mark.index(), mark.line(), mark.col() + 1)
}

/// A scalar as marked-yaml builds it when coercion is prevented: quoted scalars stay text.
fn scalar(mark: Marker, value: String, style: TScalarStyle) -> MarkedScalarNode {
    let mut node = MarkedScalarNode::new(Span::new_start(mark), value);
    node.set_coerce(matches!(style, TScalarStyle::Plain));
    node
}

/// Whether the YAML of `text` loads, with marked-yaml's errors (duplicate keys refused).
pub fn check(source: usize, text: &str) -> std::result::Result<(), LoadError> {
    let mut checker = Checker {
        source,
        text,
        frames: Vec::new(),
        hasher: RandomState::new(),
        error: None,
    };
    Parser::new_from_str(text)
        .load(&mut checker, false)
        .map_err(|scan| LoadError::ScanError(marker(source, *scan.marker()), scan))?;
    checker.error.map_or(Ok(()), Err)
}

// One frame per level of nesting (at most `yaml_text::MAX_DEPTH`): their size does not matter.
#[allow(clippy::large_enum_variant)]
enum Frame {
    Mapping {
        /// The keys so far, by a hash of their text, with the character index of each:
        /// 16 bytes per key instead of the key and its node. `collided` holds the keys
        /// whose hash an earlier, different key already has.
        keys: HashMap<u64, usize>,
        collided: HashMap<String, usize>,
        /// The key whose value is being read.
        key: Option<MarkedScalarNode>,
    },
    Sequence,
}

struct Checker<'t> {
    source: usize,
    text: &'t str,
    frames: Vec<Frame>,
    hasher: RandomState,
    /// The first mistake; like marked-yaml, the rest of the document is only scanned.
    error: Option<LoadError>,
}

impl MarkedEventReceiver for Checker<'_> {
    fn on_event(&mut self, event: Event, mark: YamlMarker) {
        if self.error.is_some() {
            return;
        }
        let mark = marker(self.source, mark);
        let mapping = matches!(event, Event::MappingStart(..));
        let result = match event {
            Event::MappingStart(anchor, tag) | Event::SequenceStart(anchor, tag) => {
                if tag.is_some() {
                    Err(LoadError::UnexpectedTag(mark))
                } else if anchor != 0 {
                    Err(LoadError::UnexpectedAnchor(mark))
                } else {
                    self.start(mapping, mark)
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.frames.pop();
                self.value_done()
            }
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 {
                    Err(LoadError::UnexpectedAnchor(mark))
                } else if tag.is_some() {
                    Err(LoadError::UnexpectedTag(mark))
                } else {
                    self.scalar(scalar(mark, value, style), mark)
                }
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }
}

impl Checker<'_> {
    fn start(&mut self, mapping: bool, mark: Marker) -> std::result::Result<(), LoadError> {
        match self.frames.last() {
            None if !mapping => return Err(LoadError::TopLevelMustBeMapping(mark)),
            Some(Frame::Mapping { key: None, .. }) => {
                return Err(LoadError::MappingKeyMustBeScalar(mark));
            }
            _ => {}
        }
        self.frames.push(if mapping {
            Frame::Mapping {
                keys: HashMap::new(),
                collided: HashMap::new(),
                key: None,
            }
        } else {
            Frame::Sequence
        });
        Ok(())
    }

    fn scalar(
        &mut self,
        node: MarkedScalarNode,
        mark: Marker,
    ) -> std::result::Result<(), LoadError> {
        match self.frames.last_mut() {
            None => Err(LoadError::TopLevelMustBeMapping(mark)),
            Some(Frame::Mapping {
                key: key @ None, ..
            }) => {
                *key = Some(node);
                Ok(())
            }
            _ => self.value_done(),
        }
    }

    /// A mapping's value is complete: its key is now in the mapping, or a duplicate.
    fn value_done(&mut self) -> std::result::Result<(), LoadError> {
        let Some(Frame::Mapping {
            keys,
            collided,
            key: pending,
        }) = self.frames.last_mut()
        else {
            return Ok(());
        };
        let Some(key) = pending.take() else {
            return Ok(());
        };
        let at = key.span().start().map_or(0, Marker::character);
        let hash = self.hasher.hash_one(key.as_str());
        let first = match keys.get(&hash) {
            None => {
                keys.insert(hash, at);
                return Ok(());
            }
            Some(&first) => first,
        };
        let first = scalar_at(self.source, self.text, first)
            .filter(|first| first.as_str() == key.as_str())
            .or_else(|| {
                let first = *collided.get(key.as_str())?;
                scalar_at(self.source, self.text, first)
            });
        match first {
            Some(prev_key) => Err(LoadError::DuplicateKey(Box::new(DuplicateKeyInner {
                prev_key,
                key,
            }))),
            None => {
                collided.insert(key.as_str().to_string(), at);
                Ok(())
            }
        }
    }
}

/// The scalar that starts at character `index` of `text`, read again: the checker keeps
/// only where each key starts, and needs a key itself only to name a duplicate.
fn scalar_at(source: usize, text: &str, index: usize) -> Option<MarkedScalarNode> {
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_token().ok()? {
            (Event::Scalar(value, style, ..), mark) if mark.index() == index => {
                return Some(scalar(marker(source, mark), value, style));
            }
            (Event::StreamEnd, _) => return None,
            _ => {}
        }
    }
}

/// How the sink wants a table's value.
pub enum Body {
    /// Row by row, when it is a mapping ([`Sink::row`]); otherwise whole.
    Rows,
    /// Whole, as one tree ([`Sink::whole`]).
    Whole,
}

/// What [`read`] hands the tables and rows of a file to. The first error stops the reading.
pub trait Sink {
    /// A key of the top-level mapping: a table's name. Its value follows.
    fn table(&mut self, name: &MarkedScalarNode) -> Result<Body>;
    /// One row of the table last named: its label and its value.
    fn row(&mut self, label: &MarkedScalarNode, value: &Node) -> Result<()>;
    /// The value of the table last named, whole.
    fn whole(&mut self, value: &Node) -> Result<()>;
}

/// Hands the tables and rows of `text`, which [`check`] accepted, to `sink`, in file order.
pub fn read(source: usize, text: &str, sink: &mut dyn Sink) -> Result<()> {
    let mut reader = Reader {
        source,
        sink,
        partials: Vec::new(),
        error: None,
    };
    // `check` accepted the text, so the parser has nothing left to refuse.
    let _ = Parser::new_from_str(text).load(&mut reader, false);
    reader.error.map_or(Ok(()), Err)
}

/// A node being built, or one of the two levels that are passed on instead of built.
enum Partial {
    /// The file's top-level mapping: table names, and how each table's value is wanted.
    Tables { table: Option<Body> },
    /// A table's mapping of rows, passed on row by row.
    Rows { label: Option<MarkedScalarNode> },
    Mapping {
        node: MarkedMappingNode,
        start: Marker,
        key: Option<MarkedScalarNode>,
    },
    Sequence {
        node: MarkedSequenceNode,
        start: Marker,
    },
}

struct Reader<'s> {
    source: usize,
    sink: &'s mut dyn Sink,
    partials: Vec<Partial>,
    error: Option<crate::error::Error>,
}

impl MarkedEventReceiver for Reader<'_> {
    fn on_event(&mut self, event: Event, mark: YamlMarker) {
        if self.error.is_some() {
            return;
        }
        let mark = marker(self.source, mark);
        let result = match event {
            Event::MappingStart(..) => {
                let partial = match self.partials.last() {
                    None => Partial::Tables { table: None },
                    Some(Partial::Tables {
                        table: Some(Body::Rows),
                    }) => Partial::Rows { label: None },
                    _ => Partial::Mapping {
                        node: MarkedMappingNode::new_empty(Span::new_start(mark)),
                        start: mark,
                        key: None,
                    },
                };
                self.partials.push(partial);
                Ok(())
            }
            Event::SequenceStart(..) => {
                self.partials.push(Partial::Sequence {
                    node: MarkedSequenceNode::new_empty(Span::new_start(mark)),
                    start: mark,
                });
                Ok(())
            }
            Event::MappingEnd | Event::SequenceEnd => match self.partials.pop() {
                Some(Partial::Mapping {
                    mut node, start, ..
                }) => {
                    *node.span_mut() = Span::new_with_marks(start, mark);
                    self.complete(Node::Mapping(node))
                }
                Some(Partial::Sequence { mut node, start }) => {
                    *node.span_mut() = Span::new_with_marks(start, mark);
                    self.complete(Node::Sequence(node))
                }
                Some(Partial::Rows { .. }) => {
                    // The table's value was passed on row by row: the next key is a table.
                    if let Some(Partial::Tables { table }) = self.partials.last_mut() {
                        *table = None;
                    }
                    Ok(())
                }
                _ => Ok(()),
            },
            Event::Scalar(value, style, ..) => {
                self.complete(Node::Scalar(scalar(mark, value, style)))
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }
}

impl Reader<'_> {
    /// `node` is complete: it becomes a key or a value of the partial above it.
    fn complete(&mut self, node: Node) -> Result<()> {
        let Some(partial) = self.partials.last_mut() else {
            return Ok(());
        };
        match (partial, node) {
            (
                Partial::Tables {
                    table: table @ None,
                },
                Node::Scalar(name),
            ) => {
                *table = Some(self.sink.table(&name)?);
            }
            (Partial::Tables { table }, value) => {
                *table = None;
                self.sink.whole(&value)?;
            }
            (
                Partial::Rows {
                    label: label @ None,
                },
                Node::Scalar(name),
            ) => *label = Some(name),
            (Partial::Rows { label }, value) => {
                if let Some(name) = label.take() {
                    self.sink.row(&name, &value)?;
                }
            }
            (
                Partial::Mapping {
                    key: key @ None, ..
                },
                Node::Scalar(name),
            ) => *key = Some(name),
            (Partial::Mapping { node: map, key, .. }, value) => {
                if let Some(name) = key.take() {
                    map.insert(name, value);
                }
            }
            (Partial::Sequence { node: list, .. }, value) => list.push(value),
        }
        Ok(())
    }
}
