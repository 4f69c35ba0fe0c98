//! The names most kroxide programs use, in one import.

pub use kroxide_model::{FieldPath, Resource, ResourceGraphDefinition};
pub use kroxide_semantics::validate::{validate, Diagnostic, Severity, Validation};
