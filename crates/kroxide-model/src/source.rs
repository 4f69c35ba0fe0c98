//! Where things are in a YAML file: field paths and their source locations,
//! so every error can point at the file, line and column it is about.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// One step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// A path to a field inside a document, displayed the way kubectl does:
/// `spec.resources[2].template.spec.replicas`.
///
/// ```
/// use kroxide_model::FieldPath;
/// let p = FieldPath::root().key("spec").key("resources").index(2).key("id");
/// assert_eq!(p.to_string(), "spec.resources[2].id");
/// assert_eq!(FieldPath::parse("spec.resources[2].id"), p);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FieldPath(pub Vec<PathSegment>);

impl FieldPath {
    /// The empty path (the document itself).
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// This path extended by a map key.
    pub fn key(&self, k: impl Into<String>) -> Self {
        let mut v = self.0.clone();
        v.push(PathSegment::Key(k.into()));
        FieldPath(v)
    }

    /// This path extended by a list index.
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(PathSegment::Index(i));
        FieldPath(v)
    }

    /// This path followed by `other`.
    pub fn join(&self, other: &FieldPath) -> Self {
        let mut v = self.0.clone();
        v.extend(other.0.iter().cloned());
        FieldPath(v)
    }

    /// The path without its last segment.
    pub fn parent(&self) -> Option<FieldPath> {
        if self.0.is_empty() {
            None
        } else {
            Some(FieldPath(self.0[..self.0.len() - 1].to_vec()))
        }
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses the displayed form back (`a.b[1]["x.y"]`). Lenient: never fails.
    pub fn parse(s: &str) -> Self {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '.' => {
                    if !cur.is_empty() {
                        out.push(PathSegment::Key(std::mem::take(&mut cur)));
                    }
                }
                '[' => {
                    if !cur.is_empty() {
                        out.push(PathSegment::Key(std::mem::take(&mut cur)));
                    }
                    let mut inner = String::new();
                    let quoted = chars.peek() == Some(&'"');
                    if quoted {
                        chars.next();
                    }
                    while let Some(c) = chars.next() {
                        if quoted && c == '"' && chars.peek() == Some(&']') {
                            chars.next();
                            break;
                        }
                        if !quoted && c == ']' {
                            break;
                        }
                        inner.push(c);
                    }
                    match (quoted, inner.parse::<usize>()) {
                        (false, Ok(i)) => out.push(PathSegment::Index(i)),
                        _ => out.push(PathSegment::Key(inner)),
                    }
                }
                c => cur.push(c),
            }
        }
        if !cur.is_empty() {
            out.push(PathSegment::Key(cur));
        }
        FieldPath(out)
    }
}

fn is_plain_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                PathSegment::Key(k) if is_plain_key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                PathSegment::Key(k) => write!(f, "[{k:?}]")?,
                PathSegment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A position in a source file (1-based line and column, byte span).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLocation {
    pub line: u32,
    pub column: u32,
    /// Byte offset of the start in the file's text.
    pub offset: usize,
    /// Length in bytes of the spanned node (at least 1).
    pub len: usize,
}

/// A source file's text, and where each field of each document in it stands.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The name shown in messages (the path given by the user).
    pub name: String,
    pub text: Arc<str>,
    locations: HashMap<FieldPath, SourceLocation>,
    warnings: Vec<LoadWarning>,
}

/// What the YAML reader accepted but a reader of the file may not expect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadWarning {
    /// Stable name: `duplicate-key` or `boolean-key`.
    pub rule: &'static str,
    /// The field the warning is about.
    pub path: FieldPath,
    pub location: Option<SourceLocation>,
    pub message: String,
}

impl SourceFile {
    pub(crate) fn new(name: &str, text: Arc<str>) -> Self {
        SourceFile {
            name: name.to_string(),
            text,
            locations: HashMap::new(),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn warn(&mut self, warning: LoadWarning) {
        self.warnings.push(warning);
    }

    /// Warnings from reading this document, in file order.
    pub fn warnings(&self) -> &[LoadWarning] {
        &self.warnings
    }

    pub(crate) fn insert(&mut self, path: FieldPath, loc: SourceLocation) {
        self.locations.entry(path).or_insert(loc);
    }

    /// The location of `path`, or of its nearest ancestor that has one.
    pub fn locate(&self, path: &FieldPath) -> Option<SourceLocation> {
        let mut p = Some(path.clone());
        while let Some(cur) = p {
            if let Some(l) = self.locations.get(&cur) {
                return Some(*l);
            }
            p = cur.parent();
        }
        None
    }

    /// The exact location of `path`, if the document has that field.
    pub fn locate_exact(&self, path: &FieldPath) -> Option<SourceLocation> {
        self.locations.get(path).copied()
    }
}
