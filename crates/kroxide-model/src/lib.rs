//! The resource graph: kroxide's one intermediate representation.
//!
//! Both ways into kroxide end here. A KRO `ResourceGraphDefinition` YAML file is
//! parsed into a [`ResourceGraphDefinition`], and the typed Rust DSL builds the
//! same struct. Everything downstream (validation, rendering, planning, both
//! deployment engines) works on this model and nothing else.
//!
//! The model is plain typed Rust, so emitted YAML has a stable, human order:
//! `apiVersion, kind, metadata, spec: {schema, resources}`. Resource templates
//! stay as ordered JSON values because they may hold any Kubernetes object.
//!
//! ```
//! use kroxide_model::{load_str, to_yaml};
//!
//! let yaml = r#"
//! apiVersion: kro.run/v1alpha1
//! kind: ResourceGraphDefinition
//! metadata:
//!   name: my-app
//! spec:
//!   schema:
//!     apiVersion: v1alpha1
//!     kind: MyApp
//!     spec:
//!       name: string | required=true
//!   resources:
//!     - id: config
//!       template:
//!         apiVersion: v1
//!         kind: ConfigMap
//!         metadata:
//!           name: ${schema.spec.name}
//! "#;
//! let docs = load_str("my-app.yaml", yaml).unwrap();
//! let rgd = &docs[0].rgd;
//! assert_eq!(rgd.spec.resources[0].id, "config");
//! let again = load_str("again.yaml", &to_yaml(rgd).unwrap()).unwrap();
//! assert_eq!(&again[0].rgd, rgd);
//! ```

mod error;
mod kro_version;
mod rgd;
mod source;
mod yaml;

/// Annotation of a resource template: `retain` keeps its objects when the
/// instance is deleted or the resource pruned (kroxide's direct mode orphans
/// them: its labels are removed, the objects stay); `delete` (the default)
/// does not. KRO deletes every child of an instance whatever it says.
pub const DELETE_POLICY_ANNOTATION: &str = "kroxide.dev/delete-policy";
/// The values [`DELETE_POLICY_ANNOTATION`] may take.
pub const DELETE_POLICIES: [&str; 2] = ["retain", "delete"];
/// Helm's annotation for the same (`keep`), honoured too.
pub const HELM_RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";

pub use error::LoadError;
pub use kro_version::KroVersion;
pub use rgd::{
    split_conditions, ExternalRef, ExternalRefMetadata, FieldNode, FieldTree, PrinterColumn,
    Resource, ResourceGraphDefinition, RgdSpec, Schema, SchemaMetadata, Scope, API_VERSION, KIND,
};
pub use source::{FieldPath, LoadWarning, PathSegment, SourceFile, SourceLocation};
#[doc(hidden)]
pub use yaml::check_direct_reader;
pub use yaml::{
    load_documents, load_file, load_file_typed, load_str, to_yaml, to_yaml_multi, write_yaml,
    LoadedRgd,
};

/// `metadata.<field>` of a Kubernetes object given as JSON, when it is a
/// string: the one way every crate reads an object's name and namespace.
///
/// ```
/// let o = serde_json::json!({"metadata": {"name": "web"}});
/// assert_eq!(kroxide_model::meta_str(&o, "name"), Some("web"));
/// assert_eq!(kroxide_model::meta_str(&o, "namespace"), None);
/// ```
pub fn meta_str<'a>(obj: &'a serde_json::Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// Re-exported so users of the model need not depend on `k8s-openapi` directly.
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
