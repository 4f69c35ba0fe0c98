//! kroxide: typed Kubernetes resource graphs.
//!
//! Describe an application as a resource graph (a typed spec, Kubernetes
//! resources that reference the spec and each other, and a status computed
//! from live objects) and kroxide renders it to a KRO
//! `ResourceGraphDefinition`, validates it offline, and deploys it.
//!
//! This crate is the front door: it re-exports the graph model
//! ([`model`]), the typed DSL ([`dsl`]) and KRO's semantics
//! ([`semantics`]: validate, plan, render). Most users want [`prelude`].
//!
//! Features:
//! - default: write, validate, plan and render graphs; no cluster code
//!   (no kube, tokio or hyper is compiled).
//! - `engine`: deploy them, directly or through KRO (`engine`,
//!   `graph.factory(Mode::Direct)`, `Factory`).
//!
//! The `kroxide` binary, and [`graph_main`](https://docs.rs/kroxide-cli)
//! that gives a graph written in Rust the same commands, are in the
//! `kroxide-cli` crate.
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

#[cfg(feature = "engine")]
pub mod factory;
pub mod prelude;

pub use kroxide_dsl as dsl;
#[cfg(feature = "engine")]
pub use kroxide_engine as engine;
pub use kroxide_model as model;
pub use kroxide_semantics as semantics;

#[cfg(feature = "engine")]
pub use factory::{Factory, FactoryError, GraphFactory, Mode};
pub use kroxide_dsl::template;
/// Re-exported for `#[serde(crate = "kroxide::serde")]`; serde's derives
/// need `serde` itself among a program's dependencies otherwise.
pub use serde;
