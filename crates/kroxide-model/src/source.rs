//! Where things are in a YAML file: field paths and their source locations,
//! so every error can point at the file, line and column it is about.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
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

/// A field path reduced to 128 bits, computed one segment at a time.
///
/// The source map has an entry for every node of a document; keying it by
/// [`FieldPath`] cost a vector of owned segments per node (most of the
/// memory, and SipHash over whole paths most of the time, of reading a
/// large graph). A key is the parent's key hashed with one segment, so a
/// reader extends it for free while descending, and a lookup computes it
/// from the path in one pass. Two independent 64-bit lanes make a mix-up of
/// two paths of one file (which would only misplace a message) as unlikely
/// as a 128-bit collision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PathKey(u64, u64);

const LANE_A: foldhash::quality::FixedState =
    foldhash::quality::FixedState::with_seed(0x6b72_6f78_6964_6561);
const LANE_B: foldhash::quality::FixedState =
    foldhash::quality::FixedState::with_seed(0x9e37_79b9_7f4a_7c15);

impl PathKey {
    /// The key of the empty path.
    pub(crate) const ROOT: PathKey = PathKey(0, 0);

    fn then(self, seg: impl Hash + Copy) -> PathKey {
        PathKey(
            LANE_A.hash_one((self.0, self.1, seg)),
            LANE_B.hash_one((self.0, self.1, seg)),
        )
    }

    /// This path extended by a map key.
    pub(crate) fn key(self, k: &str) -> PathKey {
        self.then((0u8, k))
    }

    /// This path extended by a list index.
    pub(crate) fn index(self, i: usize) -> PathKey {
        self.then((1u8, i as u64))
    }

    fn segment(self, seg: &PathSegment) -> PathKey {
        match seg {
            PathSegment::Key(k) => self.key(k),
            PathSegment::Index(i) => self.index(*i),
        }
    }

    fn of(path: &FieldPath) -> PathKey {
        path.0.iter().fold(PathKey::ROOT, |k, s| k.segment(s))
    }
}

impl Hash for PathKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already uniformly distributed: one lane is enough for the table.
        state.write_u64(self.0);
    }
}

/// A source file's text, and where each field of each document in it stands.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The name shown in messages (the path given by the user).
    pub name: String,
    pub text: Arc<str>,
    locations: HashMap<PathKey, SourceLocation, foldhash::fast::FixedState>,
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
            locations: HashMap::default(),
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

    /// How this file's source map differs from `other`'s, if it does
    /// (for the check that two YAML readers agree).
    pub(crate) fn differs_from(&self, other: &SourceFile) -> Option<String> {
        if self.locations.len() != other.locations.len() {
            return Some(format!(
                "{} located paths against {}",
                self.locations.len(),
                other.locations.len()
            ));
        }
        self.locations
            .iter()
            .find_map(|(k, l)| match other.locations.get(k) {
                Some(o) if o == l => None,
                o => Some(format!("a path at {l:?} against {o:?}")),
            })
    }

    /// Records where `path` stands, unless it is recorded already (the
    /// first occurrence of a repeated key keeps its place).
    pub(crate) fn insert(&mut self, path: PathKey, loc: SourceLocation) {
        self.locations.entry(path).or_insert(loc);
    }

    /// The location of `path`, or of its nearest ancestor that has one.
    pub fn locate(&self, path: &FieldPath) -> Option<SourceLocation> {
        let mut keys = Vec::with_capacity(path.0.len() + 1);
        keys.push(PathKey::ROOT);
        for s in &path.0 {
            let next = keys[keys.len() - 1].segment(s);
            keys.push(next);
        }
        keys.iter()
            .rev()
            .find_map(|k| self.locations.get(k).copied())
    }

    /// The exact location of `path`, if the document has that field.
    pub fn locate_exact(&self, path: &FieldPath) -> Option<SourceLocation> {
        self.locate_key(PathKey::of(path))
    }

    pub(crate) fn locate_key(&self, key: PathKey) -> Option<SourceLocation> {
        self.locations.get(&key).copied()
    }
}
