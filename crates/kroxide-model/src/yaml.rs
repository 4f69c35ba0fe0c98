//! Reading RGD YAML into the model (with a source map) and writing it back.
//!
//! Reading goes through a span-keeping tree first, so that every field path
//! of every document has a line and column for error messages; the tree is
//! then turned into the typed model. Writing uses serde-saphyr, which quotes
//! strings such as `on`, `yes`, `y` or `2026-01-01` so that kubectl reads them
//! back as strings.

use crate::error::LoadError;
use crate::rgd::{ResourceGraphDefinition, API_VERSION, KIND};
use crate::source::{FieldPath, LoadWarning, SourceFile, SourceLocation};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// One RGD read from a file, with the source map of its document.
#[derive(Clone, Debug)]
pub struct LoadedRgd {
    pub rgd: ResourceGraphDefinition,
    /// The document as plain JSON (what the API server would receive).
    pub raw: Value,
    /// Where each field of this document stands in the file.
    pub source: Arc<SourceFile>,
    /// 1-based index of the document in its file.
    pub document: usize,
}

/// Reads every document of `text` (named `file` in messages) as an RGD.
pub fn load_str(file: &str, text: &str) -> Result<Vec<LoadedRgd>, LoadError> {
    let docs = load_documents(file, text)?;
    let mut out = Vec::new();
    for (i, (raw, source)) in docs.into_iter().enumerate() {
        let document = i + 1;
        let api_version = raw.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = raw.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind != KIND || api_version != API_VERSION {
            let found = if kind.is_empty() && api_version.is_empty() {
                "not a Kubernetes object (no apiVersion/kind)".to_string()
            } else {
                format!("{api_version} {kind}")
            };
            return Err(LoadError::NotAnRgd {
                file: file.to_string(),
                document,
                found,
            });
        }
        let rgd: ResourceGraphDefinition = serde_path_to_error::deserialize(&raw).map_err(|e| {
            let path = json_path(e.path());
            LoadError::Shape {
                file: file.to_string(),
                document,
                location: source.locate(&path),
                path,
                message: e.inner().to_string(),
            }
        })?;
        out.push(LoadedRgd {
            rgd,
            raw,
            source: Arc::new(source),
            document,
        });
    }
    if out.is_empty() {
        return Err(LoadError::Empty {
            file: file.to_string(),
        });
    }
    Ok(out)
}

/// Reads the RGD file at `path`.
pub fn load_file(path: impl AsRef<Path>) -> Result<Vec<LoadedRgd>, LoadError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        file: name.clone(),
        source,
    })?;
    load_str(&name, &text)
}

/// Parses every YAML document of `text` into JSON plus a source map, without
/// caring what kind of object it is. Used for instances and observed objects too.
pub fn load_documents(file: &str, text: &str) -> Result<Vec<(Value, SourceFile)>, LoadError> {
    let shared: Arc<str> = Arc::from(text);
    // Like the API server (which warns), a repeated key keeps the last value.
    let mut opts = serde_saphyr::Options::default();
    opts.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::LastWins;
    let nodes: Vec<Spanned<Node>> =
        serde_saphyr::from_multiple_with_options(text, opts).map_err(|e| {
            let location = e.location().and_then(|l| to_location(&l, text));
            LoadError::Syntax {
                file: file.to_string(),
                message: first_line(&e.to_string()),
                location,
            }
        })?;
    let mut out = Vec::new();
    for node in nodes {
        if matches!(node.value, Node::Null) {
            continue;
        }
        let mut source = SourceFile::new(file, shared.clone());
        let value = to_json(&node, &FieldPath::root(), &mut source, text);
        out.push((value, source));
    }
    Ok(out)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn json_path(p: &serde_path_to_error::Path) -> FieldPath {
    use serde_path_to_error::Segment;
    let mut out = FieldPath::root();
    for seg in p.iter() {
        out = match seg {
            Segment::Seq { index } => out.index(*index),
            Segment::Map { key } => out.key(key.clone()),
            Segment::Enum { variant } => out.key(variant.clone()),
            Segment::Unknown => out,
        };
    }
    out
}

fn to_location(l: &serde_saphyr::Location, text: &str) -> Option<SourceLocation> {
    if l.line() == 0 {
        return None;
    }
    let span = l.span();
    let offset = match span.byte_offset() {
        Some(o) => o as usize,
        None => line_col_offset(text, l.line() as usize, l.column() as usize)?,
    };
    let len = span.byte_len().unwrap_or(1).max(1) as usize;
    Some(SourceLocation {
        line: l.line() as u32,
        column: l.column() as u32,
        offset: offset.min(text.len()),
        len: len.min(text.len().saturating_sub(offset)).max(1),
    })
}

fn line_col_offset(text: &str, line: usize, col: usize) -> Option<usize> {
    let mut off = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let c: usize = l
                .chars()
                .take(col.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return Some(off + c);
        }
        off += l.len();
    }
    None
}

fn to_json(node: &Spanned<Node>, path: &FieldPath, src: &mut SourceFile, text: &str) -> Value {
    if let Some(l) = to_location(&node.referenced, text) {
        src.insert(path.clone(), l);
    }
    match &node.value {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Int(i) => Value::Number((*i).into()),
        Node::UInt(u) => Value::Number((*u).into()),
        Node::Float(f) => Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Node::Str(s) => Value::String(s.clone()),
        Node::Seq(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, n)| to_json(n, &path.index(i), src, text))
                .collect(),
        ),
        Node::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                let name = &k.value.name;
                let child = path.key(name.clone());
                let here = to_location(&k.referenced, text);
                if k.value.from_bool {
                    src.warn(LoadWarning {
                        rule: "boolean-key",
                        path: child.clone(),
                        location: here,
                        message: format!(
                            "this key is read as the boolean `{name}` (YAML 1.1, as kubectl reads it); quote it if a string was meant"
                        ),
                    });
                }
                if m.contains_key(name) {
                    // Reported at the first occurrence: that is the value lost.
                    let again = here.map_or(String::new(), |l| format!(" on line {}", l.line));
                    src.warn(LoadWarning {
                        rule: "duplicate-key",
                        path: child.clone(),
                        location: src.locate_exact(&child).or(here),
                        message: format!(
                            "key `{name}` is given again{again}; the last value is kept (as the API server does) and this one is ignored"
                        ),
                    });
                }
                // Point map entries at their key: that is where a reader looks.
                if let Some(l) = here {
                    src.insert(child.clone(), l);
                }
                let value = to_json(v, &child, src, text);
                m.insert(name.clone(), value);
            }
            Value::Object(m)
        }
    }
}

/// A YAML node that keeps the spans of its children.
#[derive(Debug)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<Key>, Spanned<Node>)>),
}

/// A mapping key; YAML allows any scalar, Kubernetes wants strings.
#[derive(Debug)]
struct Key {
    name: String,
    /// The key was a plain scalar read as a boolean (`on`, `yes`, `n`...).
    from_bool: bool,
}

impl Key {
    fn plain(name: String) -> Self {
        Key {
            name,
            from_bool: false,
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key::plain(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Key, E> {
                Ok(Key {
                    name: v.to_string(),
                    from_bool: true,
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Key, E> {
                Ok(Key::plain(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
                Ok(Key::plain(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Key, E> {
                Ok(Key::plain(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
                Ok(Key::plain("null".to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Node, D2::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
                Ok(match i64::try_from(v) {
                    Ok(i) => Node::Int(i),
                    Err(_) => Node::UInt(v),
                })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Node, A::Error> {
                let mut v = Vec::new();
                while let Some(n) = s.next_element()? {
                    v.push(n);
                }
                Ok(Node::Seq(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Node, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry()? {
                    v.push(e);
                }
                Ok(Node::Map(v))
            }
        }
        d.deserialize_any(V)
    }
}

fn options() -> serde_saphyr::SerializerOptions {
    let mut o = serde_saphyr::SerializerOptions::default();
    o.prefer_block_scalars = true;
    o.compact_list_indent = false;
    o
}

/// Writes one RGD as YAML.
pub fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String, serde_saphyr::SerializeError> {
    serde_saphyr::to_string_with_options(value, options())
}

/// Writes several objects as one multi-document YAML stream.
pub fn to_yaml_multi<T: serde::Serialize>(
    values: &[T],
) -> Result<String, serde_saphyr::SerializeError> {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(v)?);
    }
    Ok(out)
}
