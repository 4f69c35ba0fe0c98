//! Errors from reading RGD files.

use crate::source::{FieldPath, SourceLocation};

/// Why a file could not be read as ResourceGraphDefinitions.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid YAML.
    #[error("{file}{}: invalid YAML: {message}", fmt_loc(location))]
    Syntax {
        file: String,
        message: String,
        location: Option<SourceLocation>,
    },
    /// Valid YAML, but not the shape of a ResourceGraphDefinition.
    #[error(
        "{file}{}: document {document}: {}{message}",
        fmt_loc(location),
        fmt_path(path)
    )]
    Shape {
        file: String,
        document: usize,
        path: FieldPath,
        message: String,
        location: Option<SourceLocation>,
    },
    /// A document of another kind.
    #[error("{file}: document {document} is {found}, expected apiVersion kro.run/v1alpha1, kind ResourceGraphDefinition")]
    NotAnRgd {
        file: String,
        document: usize,
        found: String,
    },
    #[error("{file}: no ResourceGraphDefinition in this file")]
    Empty { file: String },
}

impl LoadError {
    /// The file this error is about.
    pub fn file(&self) -> &str {
        match self {
            LoadError::Io { file, .. }
            | LoadError::Syntax { file, .. }
            | LoadError::Shape { file, .. }
            | LoadError::NotAnRgd { file, .. }
            | LoadError::Empty { file } => file,
        }
    }

    /// Where in the file, when known.
    pub fn location(&self) -> Option<SourceLocation> {
        match self {
            LoadError::Syntax { location, .. } | LoadError::Shape { location, .. } => *location,
            _ => None,
        }
    }
}

fn fmt_loc(l: &Option<SourceLocation>) -> String {
    match l {
        Some(l) => format!(":{}:{}", l.line, l.column),
        None => String::new(),
    }
}

fn fmt_path(p: &FieldPath) -> String {
    if p.is_root() {
        String::new()
    } else {
        format!("{p}: ")
    }
}
