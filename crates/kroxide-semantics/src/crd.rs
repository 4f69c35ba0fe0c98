//! The CustomResourceDefinition KRO generates for a graph's instances.
//!
//! Spec comes from SimpleSchema; status from the status expressions, typed
//! where the expression tells (a comparison is a boolean, a field read has the
//! field's type) and free-form otherwise; plus KRO's `state` and
//! `conditions`.

use crate::cel::{default_engine, TypeHint};
use crate::expr::{parse_string, StringValue};
use crate::k8s::KubernetesApi;
use crate::openapi::{AdditionalProperties, Definitions, Schema};
use crate::simpleschema::{SchemaError, Transformer};
use indexmap::IndexMap;
use kroxide_model::{FieldNode, FieldPath, FieldTree, ResourceGraphDefinition, Scope};
use serde_json::{json, Value};

/// KRO's default group for instances.
pub const DEFAULT_GROUP: &str = "kro.run";

/// The names of the instance API.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceNames {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
}

impl InstanceNames {
    /// Names for `rgd`'s instances.
    pub fn of(rgd: &ResourceGraphDefinition) -> Self {
        let s = &rgd.spec.schema;
        let singular = s.kind.to_ascii_lowercase();
        InstanceNames {
            group: s.group.clone().unwrap_or_else(|| DEFAULT_GROUP.to_string()),
            version: s.api_version.clone(),
            kind: s.kind.clone(),
            plural: pluralize(&singular),
            singular,
            namespaced: s.scope.unwrap_or_default() == Scope::Namespaced,
        }
    }

    /// `group/version` of instances.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// The CRD's name, `plural.group`.
    pub fn crd_name(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }
}

/// English plural of a lowercase kind, as KRO (flect) forms it for common words.
pub fn pluralize(s: &str) -> String {
    let vowel = |c: char| "aeiou".contains(c);
    if s.ends_with('s')
        || s.ends_with('x')
        || s.ends_with('z')
        || s.ends_with("ch")
        || s.ends_with("sh")
    {
        format!("{s}es")
    } else if let Some(stem) = s.strip_suffix('y') {
        if stem.chars().last().is_some_and(|c| !vowel(c)) {
            format!("{stem}ies")
        } else {
            format!("{s}s")
        }
    } else {
        format!("{s}s")
    }
}

/// The OpenAPI schema of the instance `spec`.
pub fn spec_schema(rgd: &ResourceGraphDefinition) -> Result<Schema, SchemaError> {
    let s = &rgd.spec.schema;
    let t = Transformer::new(s.types.as_ref())?;
    let empty = FieldTree::new();
    t.object(
        s.spec.as_ref().unwrap_or(&empty),
        &FieldPath::root().key("spec"),
    )
}

/// The OpenAPI schema of the instance `status`.
pub fn status_schema(rgd: &ResourceGraphDefinition, spec: &Schema) -> Schema {
    let mut schema = match &rgd.spec.schema.status {
        // The author's conditions are not a field: `conditions` gets KRO's
        // schema below, as KRO gives it.
        Some(tree) => status_object(&kroxide_model::split_conditions(tree).1, rgd, spec),
        None => Schema::of_type("object"),
    };
    let props = schema.properties.get_or_insert_with(IndexMap::new);
    let condition: Schema = serde_json::from_value(json!({
        "type": "object",
        "properties": {
            "lastTransitionTime": {"type": "string"},
            "message": {"type": "string"},
            "observedGeneration": {"type": "integer"},
            "reason": {"type": "string"},
            "status": {"type": "string"},
            "type": {"type": "string"}
        }
    }))
    .expect("static schema");
    props.insert(
        "conditions".into(),
        Schema {
            items: Some(Box::new(condition)),
            ..Schema::of_type("array")
        },
    );
    props.insert("state".into(), Schema::of_type("string"));
    props.sort_keys();
    schema
}

fn status_object(tree: &FieldTree, rgd: &ResourceGraphDefinition, spec: &Schema) -> Schema {
    let mut props = IndexMap::new();
    for (k, v) in tree {
        if let Some(s) = status_node(v, rgd, spec) {
            props.insert(k.clone(), s);
        }
    }
    props.sort_keys();
    Schema {
        properties: Some(props),
        ..Schema::of_type("object")
    }
}

/// A status field's schema; a list is an array of its first item's type, as
/// KRO infers it, and an empty one is no field at all.
fn status_node(node: &FieldNode, rgd: &ResourceGraphDefinition, spec: &Schema) -> Option<Schema> {
    Some(match node {
        FieldNode::Object(m) => status_object(m, rgd, spec),
        FieldNode::Leaf(text) => status_field(text, rgd, spec),
        FieldNode::List(items) => Schema {
            items: Some(Box::new(status_node(items.first()?, rgd, spec)?)),
            ..Schema::of_type("array")
        },
    })
}

fn any_value() -> Schema {
    Schema {
        x_preserve_unknown_fields: Some(true),
        ..Schema::default()
    }
}

fn status_field(text: &str, rgd: &ResourceGraphDefinition, spec: &Schema) -> Schema {
    match parse_string(text) {
        Ok(StringValue::Standalone(e)) => match default_engine().compile(&e) {
            Ok(p) => from_hint(&p.info().result, rgd, spec).unwrap_or_else(any_value),
            Err(_) => any_value(),
        },
        Ok(StringValue::Template(_)) | Ok(StringValue::Literal(_)) => Schema::of_type("string"),
        Err(_) => any_value(),
    }
}

fn from_hint(h: &TypeHint, rgd: &ResourceGraphDefinition, spec: &Schema) -> Option<Schema> {
    Some(match h {
        TypeHint::Bool => Schema::of_type("boolean"),
        TypeHint::Int => Schema::of_type("integer"),
        TypeHint::Float => Schema::of_type("number"),
        TypeHint::String => Schema::of_type("string"),
        TypeHint::Either(a, b) => {
            let a = from_hint(a, rgd, spec)?;
            let b = from_hint(b, rgd, spec)?;
            if a.type_ == b.type_ && a.type_.is_some() {
                Schema {
                    type_: a.type_,
                    ..Schema::default()
                }
            } else {
                return None;
            }
        }
        TypeHint::Field(r) => {
            let path: Vec<String> = r.path.clone();
            let found = if r.root == "schema" {
                match path.split_first() {
                    Some((first, rest)) if first == "spec" => {
                        spec.at(rest, &Definitions::default()).cloned()
                    }
                    _ => None,
                }
            } else {
                let res = rgd.resource(&r.root)?;
                let api = KubernetesApi::embedded();
                let root = api.schema(res.api_version()?, res.kind()?)?;
                root.at(&path, &api.definitions)
                    .map(|s| inline(s, &api.definitions, 0))
            };
            let s = found?;
            strip_for_status(s)
        }
        TypeHint::Unknown => return None,
    })
}

/// A schema with its references inlined, as a CRD requires.
fn inline(s: &Schema, defs: &Definitions, depth: usize) -> Schema {
    let s = defs.resolve(s);
    if depth > 8 {
        return match s.type_.as_deref() {
            Some(t @ ("string" | "integer" | "number" | "boolean")) => Schema::of_type(t),
            _ => any_value(),
        };
    }
    let mut out = s.clone();
    out.reference = None;
    if let Some(p) = &s.properties {
        out.properties = Some(
            p.iter()
                .map(|(k, v)| (k.clone(), inline(v, defs, depth + 1)))
                .collect(),
        );
    }
    if let Some(i) = &s.items {
        out.items = Some(Box::new(inline(i, defs, depth + 1)));
    }
    if let Some(AdditionalProperties::Schema(a)) = s.additional_properties.as_ref() {
        out.additional_properties = Some(AdditionalProperties::Schema(Box::new(inline(
            a,
            defs,
            depth + 1,
        ))));
    }
    if out.format.as_deref() == Some("int-or-string") {
        out.type_ = None;
        out.format = None;
        out.x_int_or_string = Some(true);
    }
    if out.format.as_deref() == Some("quantity") {
        out.type_ = None;
        out.format = None;
        out.x_int_or_string = Some(true);
    }
    out
}

/// Status fields only carry types: no defaults, requirements or rules.
fn strip_for_status(mut s: Schema) -> Schema {
    s.default = None;
    s.required = None;
    s.x_validations = None;
    s.description = None;
    if let Some(p) = s.properties.take() {
        s.properties = Some(
            p.into_iter()
                .map(|(k, v)| (k, strip_for_status(v)))
                .collect(),
        );
    }
    if let Some(i) = s.items.take() {
        s.items = Some(Box::new(strip_for_status(*i)));
    }
    s
}

/// The whole instance CRD, as KRO would create it.
///
/// ```
/// let rgd = &kroxide_model::load_str("x.yaml", r#"
/// apiVersion: kro.run/v1alpha1
/// kind: ResourceGraphDefinition
/// metadata: {name: web}
/// spec:
///   schema:
///     apiVersion: v1alpha1
///     kind: WebApp
///     spec:
///       replicas: integer | default=2
/// "#).unwrap()[0].rgd;
/// let crd = kroxide_semantics::crd::instance_crd(rgd).unwrap();
/// assert_eq!(crd["metadata"]["name"], "webapps.kro.run");
/// let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
/// assert_eq!(spec["properties"]["replicas"]["default"], 2);
/// ```
pub fn instance_crd(rgd: &ResourceGraphDefinition) -> Result<Value, SchemaError> {
    let names = InstanceNames::of(rgd);
    let spec = spec_schema(rgd)?;
    let status = status_schema(rgd, &spec);
    let mut props = IndexMap::new();
    props.insert("apiVersion".to_string(), Schema::of_type("string"));
    props.insert("kind".to_string(), Schema::of_type("string"));
    props.insert("metadata".to_string(), Schema::of_type("object"));
    props.insert("spec".to_string(), spec);
    props.insert("status".to_string(), status);
    let root = Schema {
        properties: Some(props),
        ..Schema::of_type("object")
    };
    let columns = match &rgd.spec.schema.additional_printer_columns {
        Some(c) => serde_json::to_value(c).expect("printer columns serialize"),
        None => json!([
            {"description": "The state of a ResourceGraphDefinition instance", "jsonPath": ".status.state", "name": "State", "type": "string"},
            {"description": "Whether a ResourceGraphDefinition instance is ready", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"},
            {"description": "Age of the resource", "jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"}
        ]),
    };
    let mut names_json = json!({
        "kind": names.kind,
        "listKind": format!("{}List", names.kind),
        "plural": names.plural,
        "singular": names.singular,
    });
    // KRO main copies them onto the CRD (Go's omitempty: none when empty);
    // KRO v0.9.3 has no such fields.
    if rgd.kro_version.is_main() {
        if let Some(sn) = rgd
            .spec
            .schema
            .short_names
            .as_ref()
            .filter(|l| !l.is_empty())
        {
            names_json["shortNames"] = json!(sn);
        }
        if let Some(c) = rgd
            .spec
            .schema
            .categories
            .as_ref()
            .filter(|l| !l.is_empty())
        {
            names_json["categories"] = json!(c);
        }
    }
    Ok(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": names.crd_name()},
        "spec": {
            "conversion": {"strategy": "None"},
            "group": names.group,
            "names": names_json,
            "scope": if names.namespaced { "Namespaced" } else { "Cluster" },
            "versions": [{
                "name": names.version,
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": root},
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
            }],
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(pluralize("complexapp"), "complexapps");
        assert_eq!(pluralize("policy"), "policies");
        assert_eq!(pluralize("gateway"), "gateways");
        assert_eq!(pluralize("status"), "statuses");
    }
}
