//! kroxide: typed Kubernetes resource graphs.
//!
//! Describe an application as a resource graph (a typed spec, Kubernetes
//! resources that reference the spec and each other, and a status computed
//! from live objects) and kroxide renders it to a KRO
//! `ResourceGraphDefinition`, validates it offline, and deploys it.
//!
//! This crate is the front door: it re-exports the graph model
//! ([`model`]) and KRO's semantics ([`semantics`]), and holds the CLI
//! ([`cli`]). Most users want [`prelude`].
//!
//! ```
//! use kroxide::prelude::*;
//!
//! let docs = kroxide::model::load_str("app.yaml", r#"
//! apiVersion: kro.run/v1alpha1
//! kind: ResourceGraphDefinition
//! metadata: {name: app}
//! spec:
//!   schema: {apiVersion: v1alpha1, kind: App, spec: {name: string}}
//!   resources:
//!     - id: config
//!       template: {apiVersion: v1, kind: ConfigMap, metadata: {name: "${schema.spec.name}"}}
//! "#).unwrap();
//! let report = validate(&docs[0].rgd);
//! assert!(report.is_valid());
//! assert_eq!(report.order.unwrap(), ["config"]);
//! ```

pub mod cli;
pub mod factory;
pub mod graphtest;
pub mod prelude;

pub use kroxide_dsl as dsl;
pub use kroxide_engine as engine;
pub use kroxide_model as model;
pub use kroxide_semantics as semantics;

pub use factory::{Factory, FactoryError, GraphFactory, Mode};
pub use kroxide_dsl::template;
/// Re-exported so `#[derive(Serialize, Deserialize)]` works with only `kroxide` in scope.
pub use serde;
