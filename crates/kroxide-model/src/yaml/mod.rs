//! Reading RGD YAML into the model (with a source map) and writing it back.
//!
//! Reading builds each document's JSON value and records, as it goes, a
//! line and column for every field path of the document (for error
//! messages); the value is then turned into the typed model. Two readers do
//! it: [`direct`] builds them from the parser's events for plain YAML (most
//! files, at a fraction of the cost), serde-saphyr for everything else and
//! for errors; both give the same result. Writing uses serde-saphyr, which
//! quotes strings such as `on`, `yes`, `y` or `2026-01-01` so that kubectl
//! reads them back as strings.

use crate::error::LoadError;
use crate::rgd::{ResourceGraphDefinition, API_VERSION, KIND};
use crate::source::{FieldPath, LoadWarning, PathKey, PathSegment, SourceFile, SourceLocation};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;
use std::cell::RefCell;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

mod direct;

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
    load_rgds(file, text, true)
}

/// Reads every document of `text` as an RGD; `raw` is kept when `keep_raw`.
fn load_rgds(file: &str, text: &str, keep_raw: bool) -> Result<Vec<LoadedRgd>, LoadError> {
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
        let (rgd, raw) = if keep_raw {
            // Tracking the path costs on every field: it is only tracked
            // again to say where the shape is wrong.
            let rgd = ResourceGraphDefinition::deserialize(&raw)
                .or_else(|_| serde_path_to_error::deserialize::<_, ResourceGraphDefinition>(&raw));
            (rgd, raw)
        } else {
            // The typed graph takes the document's strings instead of copies;
            // the path is tracked on a second reading, to say where the
            // shape is wrong.
            let mut raw = raw;
            let templates = take_templates(&mut raw);
            let rgd = match ResourceGraphDefinition::deserialize(raw) {
                Ok(mut rgd) => {
                    for (at, t) in templates {
                        if let Some(r) = rgd.spec.resources.get_mut(at) {
                            r.template = Some(t);
                        }
                    }
                    Ok(rgd)
                }
                Err(_) => {
                    let again = load_documents(file, text)?.into_iter().nth(i);
                    serde_path_to_error::deserialize(again.map_or(Value::Null, |d| d.0))
                }
            };
            (rgd, Value::Null)
        };
        let rgd = rgd.map_err(|e| {
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

/// Takes each resource's template object out of an RGD document, with the
/// resource's index: serde rebuilds every map of a `Value` it deserializes
/// into a `Value` field, and the templates are most of a graph; they are
/// put back into the typed graph as they are.
fn take_templates(raw: &mut Value) -> Vec<(usize, Value)> {
    let Some(resources) = raw
        .get_mut("spec")
        .and_then(|s| s.get_mut("resources"))
        .and_then(Value::as_array_mut)
    else {
        return Vec::new();
    };
    resources
        .iter_mut()
        .enumerate()
        .filter_map(|(i, r)| {
            let r = r.as_object_mut()?;
            if !r.get("template").is_some_and(Value::is_object) {
                return None;
            }
            Some((i, r.shift_remove("template")?))
        })
        .collect()
}

/// Reads the RGD file at `path`.
pub fn load_file(path: impl AsRef<Path>) -> Result<Vec<LoadedRgd>, LoadError> {
    load_file_with(path.as_ref(), true)
}

/// [`load_file`] for callers that read only the typed graph: each
/// [`LoadedRgd::raw`] is `Null`, which spares a large graph a second copy
/// of all its values (and the time to make it).
pub fn load_file_typed(path: impl AsRef<Path>) -> Result<Vec<LoadedRgd>, LoadError> {
    load_file_with(path.as_ref(), false)
}

fn load_file_with(path: &Path, keep_raw: bool) -> Result<Vec<LoadedRgd>, LoadError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        file: name.clone(),
        source,
    })?;
    load_rgds(&name, &text, keep_raw)
}

/// Parses every YAML document of `text` into JSON plus a source map, without
/// caring what kind of object it is. Used for instances and observed objects too.
pub fn load_documents(file: &str, text: &str) -> Result<Vec<(Value, SourceFile)>, LoadError> {
    let shared: Arc<str> = Arc::from(text);
    if let Some(docs) = direct::read(file, &shared, &budget(text.len())) {
        return Ok(docs);
    }
    load_documents_serde(file, shared)
}

/// [`load_documents`] by serde-saphyr alone: any YAML, and its errors.
fn load_documents_serde(
    file: &str,
    shared: Arc<str>,
) -> Result<Vec<(Value, SourceFile)>, LoadError> {
    let text: &str = &shared;
    // Like the API server (which warns), a repeated key keeps the last value.
    let mut opts = serde_saphyr::Options::default();
    opts.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::LastWins;
    opts.budget = Some(budget(text.len()));
    // Nothing reads comments: the parser need not hand them over.
    opts.emit_comments = false;
    let reader = Reader {
        name: file.to_string(),
        text: shared.clone(),
        doc: None,
    };
    let previous = READER.replace(Some(reader));
    let parsed: Result<Vec<Document>, _> = serde_saphyr::from_multiple_with_options(text, opts);
    READER.set(previous);
    let docs = parsed.map_err(|e| {
        let location = e.location().and_then(|l| to_location(&l, text));
        LoadError::Syntax {
            file: file.to_string(),
            message: first_line(&e.to_string()),
            location,
        }
    })?;
    Ok(docs
        .into_iter()
        .filter(|d| !d.value.is_null())
        .map(|d| (d.value, d.source))
        .collect())
}

/// Reads `text` both ways, by the direct reader and by serde-saphyr, and
/// says how they differ: values, source maps, warnings, or an error. `Ok`
/// when the direct reader leaves the text to serde-saphyr. For the property
/// test and the fuzz target, which hold the direct reader to serde-saphyr's
/// results.
#[doc(hidden)]
pub fn check_direct_reader(file: &str, text: &str) -> Result<bool, String> {
    let shared: Arc<str> = Arc::from(text);
    let Some(direct) = direct::read(file, &shared, &budget(text.len())) else {
        return Ok(false);
    };
    let serde = load_documents_serde(file, shared)
        .map_err(|e| format!("the direct reader read what serde-saphyr refuses: {e}"))?;
    if direct.len() != serde.len() {
        return Err(format!(
            "{} documents read directly, {} by serde-saphyr",
            direct.len(),
            serde.len()
        ));
    }
    for (i, ((dv, ds), (sv, ss))) in direct.iter().zip(&serde).enumerate() {
        if dv != sv {
            return Err(format!(
                "document {}: value {dv} directly, {sv} by serde-saphyr",
                i + 1
            ));
        }
        if ds.warnings() != ss.warnings() {
            return Err(format!(
                "document {}: warnings {:?} directly, {:?} by serde-saphyr",
                i + 1,
                ds.warnings(),
                ss.warnings()
            ));
        }
        if let Some(d) = ds.differs_from(ss) {
            return Err(format!("document {}: {d}", i + 1));
        }
    }
    Ok(true)
}

/// The parser's limits for a text of `len` bytes. Those that count what
/// the text holds (nodes, events, scalar bytes) grow with it: a legitimate
/// graph of 10,000 resources has a million nodes, over serde-saphyr's fixed
/// 250,000. No YAML node takes less than one byte of text, so twice the
/// length bounds every legitimate document of the text. Expansion of aliases
/// (billion laughs) is bounded apart, by the parser's alias limits (a
/// million replayed events in all, whatever the text's length), which this
/// leaves as they are.
fn budget(len: usize) -> serde_saphyr::Budget {
    let mut b = serde_saphyr::Budget::default();
    let scaled = len.saturating_mul(2);
    b.max_nodes = b.max_nodes.max(scaled);
    b.max_events = b.max_events.max(scaled.saturating_mul(2));
    b.max_total_scalar_bytes = b.max_total_scalar_bytes.max(len);
    b
}

thread_local! {
    /// The file being read: serde hands [`Deserialize`] impls no context,
    /// and the source map needs the path of each node as it is read.
    static READER: RefCell<Option<Reader>> = const { RefCell::new(None) };
}

/// What [`load_documents`] knows while serde-saphyr reads its text.
struct Reader {
    name: String,
    text: Arc<str>,
    /// The document being read.
    doc: Option<DocReader>,
}

/// The source map of the document being read, and where the reader is in it.
struct DocReader {
    source: SourceFile,
    /// The key of each enclosing path, the innermost last (the root first).
    keys: Vec<PathKey>,
    /// The segments of the innermost path (only warnings need them).
    segments: Vec<PathSegment>,
}

impl DocReader {
    fn key(&self) -> PathKey {
        *self.keys.last().expect("the root is never left")
    }

    fn path(&self) -> FieldPath {
        FieldPath(self.segments.clone())
    }

    fn leave(&mut self, loc: Option<SourceLocation>) -> PathSegment {
        let key = self.keys.pop().expect("entered");
        if let Some(l) = loc {
            self.source.insert(key, l);
        }
        self.segments.pop().expect("entered")
    }
}

/// Runs `f` on the document being read.
fn with_doc<R>(f: impl FnOnce(&mut DocReader, &str) -> R) -> R {
    READER.with_borrow_mut(|r| {
        let r = r.as_mut().expect("YAML nodes are read by load_documents");
        let doc = r.doc.as_mut().expect("inside a document");
        f(doc, &r.text)
    })
}

/// One document of the stream, read with its source map.
struct Document {
    value: Value,
    source: SourceFile,
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        READER.with_borrow_mut(|r| {
            let r = r.as_mut().expect("documents are read by load_documents");
            r.doc = Some(DocReader {
                source: SourceFile::new(&r.name, r.text.clone()),
                keys: vec![PathKey::ROOT],
                segments: Vec::new(),
            });
        });
        let node = Spanned::<Node>::deserialize(d)?;
        let doc = READER.with_borrow_mut(|r| {
            let r = r.as_mut().expect("documents are read by load_documents");
            let mut doc = r.doc.take().expect("inside a document");
            if let Some(l) = to_location(&node.referenced, &r.text) {
                doc.source.insert(PathKey::ROOT, l);
            }
            doc
        });
        Ok(Document {
            value: node.value.0,
            source: doc.source,
        })
    }
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

/// A YAML node read as JSON; its children's locations go to the source map.
struct Node(Value);

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
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Value, D2::Error> {
                d.deserialize_any(V)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                Ok(Value::Number(match i64::try_from(v) {
                    Ok(i) => i.into(),
                    Err(_) => v.into(),
                }))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
                Ok(Number::from_f64(v)
                    .map(Value::Number)
                    .unwrap_or(Value::Null))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
                Ok(Value::String(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
                Ok(Value::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Value, A::Error> {
                let mut out = Vec::new();
                loop {
                    with_doc(|doc, _| {
                        doc.keys.push(doc.key().index(out.len()));
                        doc.segments.push(PathSegment::Index(out.len()));
                    });
                    let Some(n) = s.next_element::<Spanned<Node>>()? else {
                        with_doc(|doc, _| doc.leave(None));
                        break;
                    };
                    with_doc(|doc, text| doc.leave(to_location(&n.referenced, text)));
                    out.push(n.value.0);
                }
                Ok(Value::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Value, A::Error> {
                let mut out = Map::new();
                while let Some(k) = m.next_key::<Spanned<Key>>()? {
                    let Key { name, from_bool } = k.value;
                    let repeated = out.contains_key(&name);
                    let located = with_doc(|doc, text| {
                        enter_key(doc, text, name, from_bool, repeated, &k.referenced)
                    });
                    // The entry is located at its key; the span of its
                    // value (which costs) only stands in for a key without one.
                    let (value, at) = if located {
                        (m.next_value::<Node>()?, None)
                    } else {
                        let v = m.next_value::<Spanned<Node>>()?;
                        (v.value, Some(v.referenced))
                    };
                    let segment =
                        with_doc(|doc, text| doc.leave(at.and_then(|l| to_location(&l, text))));
                    let PathSegment::Key(name) = segment else {
                        unreachable!("a map entry's segment is its key")
                    };
                    out.insert(name, value.0);
                }
                Ok(Value::Object(out))
            }
        }
        d.deserialize_any(V).map(Node)
    }
}

/// Steps into the map entry `name` (its key read at `key_at`): warns about
/// a boolean or repeated key, and points the entry at its key, which is
/// where a reader looks. Whether the key has a location.
fn enter_key(
    doc: &mut DocReader,
    text: &str,
    name: String,
    from_bool: bool,
    repeated: bool,
    key_at: &serde_saphyr::Location,
) -> bool {
    let child = doc.key().key(&name);
    let here = to_location(key_at, text);
    doc.keys.push(child);
    if from_bool || repeated {
        let mut path = doc.path();
        path.0.push(PathSegment::Key(name.clone()));
        if from_bool {
            doc.source
                .warn(boolean_key_warning(&name, path.clone(), here));
        }
        if repeated {
            let first = doc.source.locate_key(child);
            doc.source
                .warn(duplicate_key_warning(&name, path, first, here));
        }
    }
    if let Some(l) = here {
        doc.source.insert(child, l);
    }
    doc.segments.push(PathSegment::Key(name));
    here.is_some()
}

/// The warning for a key YAML 1.1 reads as a boolean (`on`, `yes`, `n`...).
fn boolean_key_warning(name: &str, path: FieldPath, here: Option<SourceLocation>) -> LoadWarning {
    LoadWarning {
        rule: "boolean-key",
        path,
        location: here,
        message: format!(
            "this key is read as the boolean `{name}` (YAML 1.1, as kubectl reads it); quote it if a string was meant"
        ),
    }
}

/// The warning for a key given again (at `here`) in one map; it is
/// reported at the `first` occurrence: that is the value lost.
fn duplicate_key_warning(
    name: &str,
    path: FieldPath,
    first: Option<SourceLocation>,
    here: Option<SourceLocation>,
) -> LoadWarning {
    let again = here.map_or(String::new(), |l| format!(" on line {}", l.line));
    LoadWarning {
        rule: "duplicate-key",
        path,
        location: first.or(here),
        message: format!(
            "key `{name}` is given again{again}; the last value is kept (as the API server does) and this one is ignored"
        ),
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

/// Writes one object as YAML to `w`: the text of [`to_yaml`], without
/// holding all of it.
pub fn write_yaml<W: std::io::Write, T: serde::Serialize>(
    w: &mut W,
    value: &T,
) -> Result<(), serde_saphyr::SerializeError> {
    serde_saphyr::to_io_writer_with_options(w, value, options())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A legitimate document over serde-saphyr's default budget of 250,000
    /// nodes (a graph of 10,000 resources has a million) is read, with
    /// its source map.
    #[test]
    fn a_large_document_is_read() {
        let n = 300_000;
        let mut text = String::from("items:\n");
        for i in 0..n {
            text.push_str(&format!("- {i}\n"));
        }
        let docs = load_documents("large.yaml", &text).unwrap();
        let (value, source) = &docs[0];
        assert_eq!(value["items"].as_array().unwrap().len(), n);
        assert_eq!(value["items"][n - 1], n - 1);
        let last = FieldPath::root().key("items").index(n - 1);
        assert_eq!(source.locate_exact(&last).unwrap().line as usize, n + 1);
    }

    /// Aliases that expand exponentially (billion laughs) are refused,
    /// however the budget grows with the text.
    #[test]
    fn an_alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let start = std::time::Instant::now();
        let err = load_documents("laughs.yaml", &text).unwrap_err();
        assert!(matches!(err, LoadError::Syntax { .. }), "{err}");
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
    }

    /// Reading only the typed graph gives the same graph, and the same
    /// shape errors, as reading the document as JSON too.
    #[test]
    fn the_typed_only_read_gives_the_same_graph_and_errors() {
        let good = "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: g}\nspec:\n  schema: {apiVersion: v1alpha1, kind: G, spec: {n: string}}\n  resources:\n  - id: c\n    template: {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n";
        let bad = good.replace("id: c", "id: [c]");
        let dir = std::env::temp_dir().join(format!("kroxide-typed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in [("good.yaml", good.to_string()), ("bad.yaml", bad)] {
            let path = dir.join(name);
            std::fs::write(&path, &text).unwrap();
            match (load_file(&path), load_file_typed(&path)) {
                (Ok(both), Ok(typed)) => {
                    assert_eq!(both[0].rgd, typed[0].rgd);
                    assert!(!both[0].raw.is_null());
                    assert!(typed[0].raw.is_null());
                }
                (Err(a), Err(b)) => {
                    assert!(matches!(a, LoadError::Shape { .. }), "{a}");
                    assert_eq!(a.to_string(), b.to_string());
                }
                (a, b) => panic!("{name}: {:?} vs {:?}", a.err(), b.err()),
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The source map points every node at its key (map entries) or at
    /// itself (list items and the root), and a path that is not in the
    /// document at its nearest ancestor that is.
    #[test]
    fn the_source_map_locates_keys_items_and_ancestors() {
        let text = "a:\n  b: [x, {c: 1}]\n  d: 2\n";
        let docs = load_documents("m.yaml", text).unwrap();
        let src = &docs[0].1;
        let at = |p: &str| src.locate(&FieldPath::parse(p)).map(|l| (l.line, l.column));
        assert_eq!(at(""), Some((1, 1)));
        assert_eq!(at("a.b"), Some((2, 3)));
        assert_eq!(at("a.b[1]"), Some((2, 10)));
        assert_eq!(at("a.b[1].c"), Some((2, 11)));
        assert_eq!(at("a.d"), Some((3, 3)));
        assert_eq!(at("a.b[1].nope[3]"), Some((2, 10)));
        assert_eq!(src.locate_exact(&FieldPath::parse("a.nope")), None);
    }
}
