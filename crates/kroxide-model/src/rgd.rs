//! The typed ResourceGraphDefinition (kro.run/v1alpha1).

use indexmap::IndexMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// `apiVersion` of a ResourceGraphDefinition.
pub const API_VERSION: &str = "kro.run/v1alpha1";
/// `kind` of a ResourceGraphDefinition.
pub const KIND: &str = "ResourceGraphDefinition";

/// A KRO ResourceGraphDefinition: the schema of a new API and the resources
/// that an instance of it expands to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGraphDefinition {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: RgdSpec,
    /// Status written by a KRO controller; kept as read, never interpreted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    /// The KRO this graph is checked, planned and deployed for (not part of
    /// the YAML: the command line's `--kro-version`, the DSL's
    /// `kro_version`). Defaults to v0.9.3.
    #[serde(skip)]
    pub kro_version: crate::KroVersion,
}

impl ResourceGraphDefinition {
    /// A new, empty graph named `name` whose instances are `kind` in `api_version` (e.g. `v1alpha1`).
    ///
    /// ```
    /// let rgd = kroxide_model::ResourceGraphDefinition::new("web-app", "v1alpha1", "WebApp");
    /// assert_eq!(rgd.metadata.name.as_deref(), Some("web-app"));
    /// assert!(rgd.spec.resources.is_empty());
    /// ```
    pub fn new(name: &str, api_version: &str, kind: &str) -> Self {
        ResourceGraphDefinition {
            api_version: API_VERSION.to_string(),
            kind: KIND.to_string(),
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..ObjectMeta::default()
            },
            spec: RgdSpec {
                schema: Schema {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                    group: None,
                    scope: None,
                    spec: None,
                    types: None,
                    status: None,
                    additional_printer_columns: None,
                    short_names: None,
                    categories: None,
                    metadata: None,
                },
                resources: Vec::new(),
            },
            status: None,
            kro_version: crate::KroVersion::default(),
        }
    }

    /// The graph's name (`metadata.name`), or `""` when it has none.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// The resource with this id.
    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.spec.resources.iter().find(|r| r.id == id)
    }
}

/// `spec` of a ResourceGraphDefinition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RgdSpec {
    pub schema: Schema,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
}

/// Whether instances are namespaced or cluster-scoped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Scope {
    #[default]
    Namespaced,
    Cluster,
}

/// `spec.schema`: the API that instances of the graph have.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schema {
    /// Version of the instance API, e.g. `v1alpha1`.
    pub api_version: String,
    /// Kind of the instance API, UpperCamelCase.
    pub kind: String,
    /// API group of instances; KRO defaults it to `kro.run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// The instance spec in SimpleSchema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<FieldTree>,
    /// Custom SimpleSchema types usable in `spec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<FieldTree>,
    /// Status fields: `${...}` expressions over the resources and the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<FieldTree>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_printer_columns: Option<Vec<PrinterColumn>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Labels and annotations for the generated CRD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<SchemaMetadata>,
}

/// Labels and annotations KRO puts on the generated CRD.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SchemaMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<IndexMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<IndexMap<String, String>>,
}

/// A column shown by `kubectl get` for instances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrinterColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub json_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
}

/// An ordered map of SimpleSchema fields (or status expressions).
pub type FieldTree = IndexMap<String, FieldNode>;

/// A status tree's author-defined conditions (its top-level `conditions`,
/// which KRO v0.9.3 reads as a list of `${...}` expressions giving
/// `runtime.newCondition(...)`) apart from its fields.
///
/// ```
/// use kroxide_model::{split_conditions, FieldNode, FieldTree};
/// let mut status = FieldTree::new();
/// status.insert("url".into(), FieldNode::Leaf("${svc.spec.clusterIP}".into()));
/// status.insert("conditions".into(), FieldNode::List(vec![]));
/// let (conditions, fields) = split_conditions(&status);
/// assert_eq!(conditions, Some(&FieldNode::List(vec![])));
/// assert_eq!(fields.keys().collect::<Vec<_>>(), ["url"]);
/// ```
pub fn split_conditions(
    status: &FieldTree,
) -> (Option<&FieldNode>, std::borrow::Cow<'_, FieldTree>) {
    match status.get("conditions") {
        // Every plan computes the status: no copy of it unless needed.
        None => (None, std::borrow::Cow::Borrowed(status)),
        Some(c) => {
            let mut fields = status.clone();
            fields.shift_remove("conditions");
            (Some(c), std::borrow::Cow::Owned(fields))
        }
    }
}

/// One entry of a SimpleSchema or status tree: a leaf string (`integer |
/// default=1`, or `${expr}` for status) or a nested object of fields. A
/// list is read so that it can be named in an error, and for the one place
/// KRO takes a list: the author-defined `status.conditions`, a list of
/// `${...}` expressions.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldNode {
    Leaf(String),
    Object(FieldTree),
    List(Vec<FieldNode>),
}

impl Serialize for FieldNode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldNode::Leaf(v) => s.serialize_str(v),
            FieldNode::Object(m) => m.serialize(s),
            FieldNode::List(l) => l.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for FieldNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldNode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a SimpleSchema string (e.g. `string | default=\"x\"`), a map of fields, or a list (status.conditions)",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldNode, E> {
                Ok(FieldNode::Leaf(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<FieldNode, E> {
                Ok(FieldNode::Leaf(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<FieldNode, A::Error> {
                let mut out = FieldTree::new();
                while let Some((k, v)) = m.next_entry::<String, FieldNode>()? {
                    out.insert(k, v);
                }
                Ok(FieldNode::Object(out))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<FieldNode, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = a.next_element::<FieldNode>()? {
                    out.push(v);
                }
                Ok(FieldNode::List(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One resource of the graph: a template that kroxide/KRO creates, or a
/// reference to an object that exists already.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resource {
    pub id: String,
    /// The object to create, with `${...}` expressions in its values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Value>,
    /// An existing object to read, never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<ExternalRef>,
    /// Expressions over this resource that must all be true for it to be ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ready_when: Vec<String>,
    /// Expressions over the schema that must all be true for it to exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_when: Vec<String>,
    /// Iterators: each entry maps one iterator name to a list expression.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub for_each: Vec<IndexMap<String, String>>,
}

impl Resource {
    /// A resource created from `template`.
    pub fn from_template(id: impl Into<String>, template: Value) -> Self {
        Resource {
            id: id.into(),
            template: Some(template),
            external_ref: None,
            ready_when: Vec::new(),
            include_when: Vec::new(),
            for_each: Vec::new(),
        }
    }

    /// `apiVersion` of the template or external reference.
    pub fn api_version(&self) -> Option<&str> {
        match (&self.template, &self.external_ref) {
            (Some(t), _) => t.get("apiVersion").and_then(Value::as_str),
            (None, Some(r)) => Some(&r.api_version),
            _ => None,
        }
    }

    /// `kind` of the template or external reference.
    pub fn kind(&self) -> Option<&str> {
        match (&self.template, &self.external_ref) {
            (Some(t), _) => t.get("kind").and_then(Value::as_str),
            (None, Some(r)) => Some(&r.kind),
            _ => None,
        }
    }
}

/// `externalRef`: an object read from the cluster by name or label selector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalRef {
    pub api_version: String,
    pub kind: String,
    pub metadata: ExternalRefMetadata,
}

/// `externalRef.metadata`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ExternalRefMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
}
