//! The names most kroxide programs use, in one import.
//!
//! ```
//! use kroxide::prelude::*;
//!
//! #[derive(Schema, Serialize, Deserialize, Clone)]
//! #[serde(rename_all = "camelCase")]
//! pub struct AppSpec { pub name: String, pub replicas: i32 }
//!
//! #[derive(Schema, Serialize, Deserialize, Clone)]
//! #[serde(rename_all = "camelCase")]
//! pub struct AppStatus { pub ready: bool }
//!
//! let app = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
//!     let web = g.add(Deployment::new(&spec.name, "nginx").replicas(&spec.replicas).port(80));
//!     g.add(Service::exposing(&web).port(80));
//!     AppStatusExpr { ready: web.status().ready_replicas().eq(web.spec().replicas()) }
//! });
//! let yaml = app.to_rgd_yaml().unwrap();
//! assert!(yaml.contains("replicas: ${schema.spec.replicas}"));
//! ```

#[cfg(feature = "engine")]
pub use crate::factory::{GraphFactory, Mode};
pub use kroxide_dsl::resources::{
    http_get, tcp_socket, ClusterRole, ClusterRoleBinding, ConfigMap, CronJob, DaemonSet,
    Deployment, HasMeta, HorizontalPodAutoscaler, Ingress, Job, Namespace, NetworkPolicy, Object,
    PersistentVolumeClaim, PodDisruptionBudget, Probe, Role, RoleBinding, Secret, Service,
    ServiceAccount, StatefulSet,
};
pub use kroxide_dsl::template;
// `Schema` is both the trait and its derive (re-exported by kroxide-dsl).
pub use kroxide_dsl::{
    cel, has, lit, BuildError, Expr, Graph, Handle, IntoExpr, ResourceGraph, Schema,
};
pub use kroxide_model::{FieldPath, KroVersion, Resource, ResourceGraphDefinition};
pub use kroxide_semantics::validate::{validate, Diagnostic, Severity, Validation};
pub use serde::{Deserialize, Serialize};
