//! KRO's semantics, computed client-side.
//!
//! kroxide must compute exactly what a KRO controller would, without a
//! cluster: the instance CRD from SimpleSchema, the `${...}` expressions and
//! their CEL, the dependency graph and its order, and every validation rule
//! KRO applies to a ResourceGraphDefinition. This crate does that, on the
//! graph model of `kroxide-model`.

/// KRO's CEL environment, its own crate ([`kroxide_cel`]).
pub use kroxide_cel as cel;
pub mod chain;
pub mod crd;
pub mod dag;
pub mod defaults;
pub mod expr;
pub mod instance;
pub mod k8s;
pub mod openapi;
mod par;
pub mod plan;
pub mod readiness;
pub mod redact;
pub mod simpleschema;
pub mod validate;
