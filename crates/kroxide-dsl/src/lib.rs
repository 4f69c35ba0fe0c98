//! The typed Rust DSL for resource graphs.
//!
//! A graph is written the way the TypeKro seed reads — schemas, then
//! resources, then status — but the compiler checks it: `spec.gateway.replicas`
//! is an `Expr<i64>` that fits only integer fields, a status field of type
//! `bool` only takes a boolean expression, and a missing status field does not
//! compile. The result is the same graph model a parsed RGD file gives,
//! checked by the offline validator before it is returned.

pub mod collection;
pub mod conditions;
pub mod expr;
pub mod external;
pub mod fields;
pub mod graph;
pub mod handle;
pub mod manifests;
pub mod nested;
pub mod resources;
pub mod schema;

pub use collection::Each;
pub use expr::{cel, has, lit, Expr, IntoExpr};
pub use graph::{BuildError, Graph, Lint, ResourceGraph, ResourceGraphBuilder};
pub use handle::{Handle, Kind};
pub use kroxide_model::KroVersion;
pub use nested::Nested;
pub use resources::*;
pub use schema::{Schema, SchemaEnum};

#[doc(hidden)]
pub mod __private {
    pub use kroxide_model::{FieldNode, FieldTree};
}
