//! The common case of reading YAML, straight from the parser's events.
//!
//! serde-saphyr reads any YAML: tags, anchors and aliases, merge keys,
//! budgets, and errors that point at the text. That generality costs most of
//! the time of reading a large graph: its deserializer took twice as long as
//! the parser under it on a 10,000-resource RGD.
//! RGD files rarely use more than plain maps, lists and scalars, so this
//! reader builds the JSON value and the source map from the events of the
//! same parser (granit-parser, with serde-saphyr's options) for exactly that
//! subset, and gives up (`None`) on anything else: a tag, an anchor, an
//! alias, a merge key, a key that is not a string, a `%YAML` directive, a
//! scalar whose type it cannot tell for certain the way serde-saphyr would,
//! a parse error, or a document near serde-saphyr's limits. The caller then
//! reads the text with serde-saphyr, which gives the result or the error.
//! A large text is parsed on a second thread while this one builds.
//! What this reader returns is what serde-saphyr returns for the same text:
//! values, source map and warnings (checked by [`super::check_direct_reader`]
//! in a property test and the YAML fuzz target).

use super::duplicate_key_warning;
use crate::source::{FieldPath, PathKey, PathSegment, SourceFile, SourceLocation};
use granit_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};
use std::sync::Arc;

/// serde-saphyr's default depth limit: deeper documents are its to refuse.
const MAX_DEPTH: usize = 64;
/// serde-saphyr's default limit on documents in one stream.
const MAX_DOCUMENTS: usize = 1_000;

/// A container being read.
enum Frame {
    Seq {
        items: Vec<Value>,
        key: PathKey,
    },
    Map {
        map: Map<String, Value>,
        key: PathKey,
        /// The entry whose value is being read: its key, and its path key.
        entry: Option<(String, PathKey)>,
    },
}

/// A scalar's value, as serde-saphyr resolves it for an untyped target.
#[derive(Clone, Copy)]
enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

/// Texts from this size on are parsed on a second thread while this one
/// builds the values: parsing and building each take about half the time,
/// and a thread costs more than it saves on small texts.
const PIPELINE_FROM: usize = 64 * 1024;
/// Parser events handed from the parsing thread at a time.
const BATCH: usize = 2048;

type Item<'a> = Result<(Event<'a>, Span), granit_parser::ScanError>;

/// Reads every document of `text` (named `file`), or `None` when the text
/// needs serde-saphyr (see the module doc). `limits` are the node, event
/// and scalar-byte limits serde-saphyr reads the same text with.
pub(super) fn read(
    file: &str,
    text: &Arc<str>,
    limits: &serde_saphyr::Budget,
) -> Option<Vec<(Value, SourceFile)>> {
    let mut options = granit_parser::Options::default();
    options.emit_comments = false;
    let parser = Parser::new_from_str_with_options(text, options);
    if text.len() < PIPELINE_FROM {
        return build(file, text, limits, parser);
    }
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Item>>(8);
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for item in parser {
                let failed = item.is_err();
                batch.push(item);
                if batch.len() == BATCH || failed {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    // A builder that gave up hangs up: stop parsing then.
                    if tx.send(full).is_err() || failed {
                        return;
                    }
                }
            }
            let _ = tx.send(batch);
        });
        build(file, text, limits, rx.into_iter().flatten())
    })
}

/// Builds the documents of `text` from its parser's `events`.
fn build<'a>(
    file: &str,
    text: &Arc<str>,
    limits: &serde_saphyr::Budget,
    events_in: impl Iterator<Item = Item<'a>>,
) -> Option<Vec<(Value, SourceFile)>> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // The document being read: its source map, and its root once read.
    let mut doc: Option<(SourceFile, Option<Value>)> = None;
    let (mut events, mut nodes, mut scalar_bytes, mut documents) = (0usize, 0usize, 0usize, 0);
    for item in events_in {
        let (event, span) = item.ok()?;
        events += 1;
        if events >= limits.max_events {
            return None;
        }
        let value = match event {
            Event::StreamStart | Event::StreamEnd => continue,
            Event::DocumentStart(_, version) => {
                documents += 1;
                if version.is_some() || documents >= MAX_DOCUMENTS || doc.is_some() {
                    return None;
                }
                doc = Some((SourceFile::new(file, text.clone()), None));
                continue;
            }
            Event::DocumentEnd => {
                let (source, root) = doc.take()?;
                match root {
                    None | Some(Value::Null) => {}
                    Some(v) => docs.push((v, source)),
                }
                continue;
            }
            Event::Scalar(s, style, anchor, tag) => {
                nodes += 1;
                scalar_bytes += s.len();
                if anchor != 0
                    || tag.is_some()
                    || nodes >= limits.max_nodes
                    || scalar_bytes >= limits.max_total_scalar_bytes
                {
                    return None;
                }
                let (source, _) = doc.as_mut()?;
                let resolved = if style == ScalarStyle::Plain {
                    resolve_plain(&s)?
                } else {
                    Resolved::Str
                };
                if let Some(Frame::Map { entry: None, .. }) = stack.last() {
                    let name = key_name(&s, style, resolved)?;
                    enter_key(&mut stack, source, name, &span, text)?;
                    continue;
                }
                record_node(&stack, source, &span, text)?;
                match resolved {
                    Resolved::Null => Value::Null,
                    Resolved::Bool(b) => Value::Bool(b),
                    Resolved::Int(n) => Value::Number(Number::from(n)),
                    Resolved::Float(f) => Value::Number(Number::from_f64(f)?),
                    Resolved::Str => Value::String(s.into_owned()),
                }
            }
            Event::SequenceStart(_, anchor, ref tag) | Event::MappingStart(_, anchor, ref tag) => {
                nodes += 1;
                if anchor != 0
                    || tag.is_some()
                    || nodes >= limits.max_nodes
                    || stack.len() + 1 >= MAX_DEPTH
                {
                    return None;
                }
                let (source, _) = doc.as_mut()?;
                let key = record_node(&stack, source, &span, text)?;
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        items: Vec::new(),
                        key,
                    }
                } else {
                    Frame::Map {
                        map: Map::new(),
                        key,
                        entry: None,
                    }
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop()? {
                Frame::Seq { items, .. } => Value::Array(items),
                Frame::Map { .. } => return None,
            },
            Event::MappingEnd => match stack.pop()? {
                Frame::Map {
                    map, entry: None, ..
                } => Value::Object(map),
                Frame::Map { .. } | Frame::Seq { .. } => return None,
            },
            // Aliases, anchors and anything else: serde-saphyr's to read.
            _ => return None,
        };
        // A node read whole: a scalar value, or a container just closed.
        match stack.last_mut() {
            None => {
                let (_, root) = doc.as_mut()?;
                if root.replace(value).is_some() {
                    return None;
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, entry, .. }) => {
                let (name, _) = entry.take()?;
                map.insert(name, value);
            }
        }
    }
    if doc.is_some() || !stack.is_empty() {
        return None;
    }
    Some(docs)
}

/// Records where the node that starts at `span` stands, as serde-saphyr's
/// reader does: the root and list items at the node itself (map entries
/// are recorded at their key). The node's path key.
fn record_node(
    stack: &[Frame],
    source: &mut SourceFile,
    span: &Span,
    text: &str,
) -> Option<PathKey> {
    let key = match stack.last() {
        None => PathKey::ROOT,
        Some(Frame::Seq { items, key }) => key.index(items.len()),
        Some(Frame::Map { entry, .. }) => return Some(entry.as_ref()?.1),
    };
    if let Some(l) = location(span, text) {
        source.insert(key, l);
    }
    Some(key)
}

/// Steps into the entry `name` of the map on top of `stack`, its key read
/// at `span`: warns about a repeated key as serde-saphyr's reader does, and
/// records the entry at its key.
fn enter_key(
    stack: &mut [Frame],
    source: &mut SourceFile,
    name: String,
    span: &Span,
    text: &str,
) -> Option<()> {
    let Some(Frame::Map { map, key, .. }) = stack.last() else {
        return None;
    };
    let child = key.key(&name);
    let here = location(span, text);
    if map.contains_key(&name) {
        let mut path = path_of(stack);
        path.push(PathSegment::Key(name.clone()));
        let first = source.locate_key(child);
        source.warn(duplicate_key_warning(&name, FieldPath(path), first, here));
    }
    if let Some(l) = here {
        source.insert(child, l);
    }
    if let Some(Frame::Map { entry, .. }) = stack.last_mut() {
        *entry = Some((name, child));
    }
    Some(())
}

/// The path of the entry or item being read, from the enclosing containers.
fn path_of(stack: &[Frame]) -> Vec<PathSegment> {
    stack
        .iter()
        .take(stack.len().saturating_sub(1))
        .map(|f| match f {
            Frame::Seq { items, .. } => PathSegment::Index(items.len()),
            Frame::Map { entry, .. } => {
                PathSegment::Key(entry.as_ref().map_or_else(String::new, |e| e.0.clone()))
            }
        })
        .collect()
}

/// A map key's name, or `None` for keys this reader leaves to
/// serde-saphyr: any but a string (a boolean or a number: serde-saphyr
/// settles repeated keys among those by itself, comparing their text, and
/// warns of boolean keys), a block scalar, and `<<`.
fn key_name(s: &str, style: ScalarStyle, resolved: Resolved) -> Option<String> {
    let quoted_or_plain = matches!(
        style,
        ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted
    );
    match resolved {
        Resolved::Str if quoted_or_plain && s != "<<" => Some(s.to_string()),
        _ => None,
    }
}

/// serde-saphyr's resolution of a plain untagged scalar for an untyped
/// target (null, then YAML 1.1 booleans, integers, floats, else a string),
/// for the spellings this reader can tell apart for certain; `None` for the
/// rest (leading zeros, radixes, underscores, exponents, `.inf`, dates...).
fn resolve_plain(s: &str) -> Option<Resolved> {
    let t = s.trim_matches([' ', '\t', '\r', '\n']);
    if matches!(s, "" | "~" | "null" | "Null" | "NULL") {
        return Some(Resolved::Null);
    }
    if let Some(b) = yaml11_bool(t) {
        return Some(Resolved::Bool(b));
    }
    let bytes = t.as_bytes();
    let &first = bytes.first()?;
    // Neither serde-saphyr's integer nor its float parsing accepts a text
    // that starts with anything but a digit, a sign or a dot.
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Some(Resolved::Str);
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    if first != b'+' && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if digits.len() > 1 && digits.starts_with('0') || digits.len() > 18 {
            return None;
        }
        return t.parse().ok().map(Resolved::Int);
    }
    if let Some((int, frac)) = digits.split_once('.') {
        let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if first != b'+' && all_digits(int) && all_digits(frac) {
            let f: f64 = t.parse().ok()?;
            return f.is_finite().then_some(Resolved::Float(f));
        }
    }
    // No number has two dots (`10.0.0.7`, `../x`, `.status.state`).
    if bytes.iter().filter(|&&b| b == b'.').count() > 1 {
        return Some(Resolved::Str);
    }
    // A sign or a dot before a letter (`-v`, `.spec`; but `.inf` and `.nan`
    // are floats), or a digit followed by what no number has (`500m`,
    // `10Gi`, `80/TCP`): a string to both parsers.
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if matches!(
        unsigned,
        ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN"
    ) {
        return None;
    }
    let unsigned = unsigned.strip_prefix('.').unwrap_or(unsigned).as_bytes();
    let numeric = |b: &u8| b.is_ascii_hexdigit() || b"+-._xXoO".contains(b);
    match unsigned.first() {
        Some(b) if b.is_ascii_alphabetic() => Some(Resolved::Str),
        Some(b) if b.is_ascii_digit() && !unsigned.iter().all(numeric) => Some(Resolved::Str),
        _ => None,
    }
}

/// serde-saphyr's YAML 1.1 booleans (what kubectl reads as booleans too).
fn yaml11_bool(t: &str) -> Option<bool> {
    let is = |w: &str| t.eq_ignore_ascii_case(w);
    if is("true") || is("yes") || is("y") || is("on") {
        Some(true)
    } else if is("false") || is("no") || is("n") || is("off") {
        Some(false)
    } else {
        None
    }
}

/// A span as serde-saphyr's reader turns its location into a
/// [`SourceLocation`] (1-based line and column, byte offset and length).
fn location(span: &Span, text: &str) -> Option<SourceLocation> {
    let line = span.start.line();
    if line == 0 {
        return None;
    }
    let offset = span.start.byte_offset()?;
    let len = span
        .end
        .byte_offset()
        .map_or(1, |end| end.saturating_sub(offset))
        .max(1);
    let offset = offset.min(text.len());
    Some(SourceLocation {
        line: u32::try_from(line).ok()?,
        column: u32::try_from(span.start.col() + 1).ok()?,
        offset,
        len: len.min(text.len().saturating_sub(offset)).max(1),
    })
}
