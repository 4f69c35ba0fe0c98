//! Instances: validated and defaulted as the API server does for the
//! instance CRD, before anything else happens.

use crate::crd::{spec_schema, InstanceNames};
use crate::openapi::{validate, Definitions, Options, UnknownFields};
use kroxide_model::{FieldPath, ResourceGraphDefinition};
use serde_json::{json, Value};

/// Why an instance was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}", .problems.iter().map(|p| format!("{}: {}", p.0, p.1)).collect::<Vec<_>>().join("\n"))]
pub struct InstanceError {
    /// (path in the instance document, what is wrong and what was expected)
    pub problems: Vec<(FieldPath, String)>,
}

/// Why `name` is not a valid object name (a lowercase RFC 1123 subdomain,
/// as the API server requires for most kinds), if it is not.
pub fn name_problem(name: &str) -> Option<String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.is_empty() {
        Some("is empty".into())
    } else if name.len() > 253 {
        Some(format!(
            "is {} characters long, at most 253 are allowed",
            name.len()
        ))
    } else if !name.chars().all(ok_char)
        || !alnum(name.chars().next())
        || !alnum(name.chars().last())
    {
        Some(format!(
            "{name:?} is not a valid name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        ))
    } else {
        None
    }
}

/// Why `value` cannot be a label value (at most 63 characters, empty or
/// alphanumerics with `-`, `_`, `.` inside, as the API server requires),
/// if it cannot.
pub fn label_value_problem(value: &str) -> Option<String> {
    let inner = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if value.len() > 63 {
        Some(format!(
            "is {} characters long, a label value has at most 63",
            value.len()
        ))
    } else if !value.is_empty()
        && (!value.chars().all(inner) || !edge(value.chars().next()) || !edge(value.chars().last()))
    {
        Some(format!("{value:?} is not a valid label value: it must be alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character"))
    } else {
        None
    }
}

/// Why `key` cannot be a label key (an optional DNS-subdomain prefix and
/// `/`, then a name of at most 63 characters), if it cannot.
pub fn label_key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(why) = prefix.and_then(name_problem) {
        return Some(format!("its prefix {why}"));
    }
    if name.is_empty() {
        return Some("has an empty name".into());
    }
    label_value_problem(name).map(|why| format!("its name {why}"))
}

/// The instance as a whole object: `raw` itself when it names its spec,
/// apiVersion, kind or metadata (an instance of only `metadata: {name: x}`
/// takes every default), else `raw` as the spec of one (a bare spec; a
/// field `metadata` is the spec's when the schema declares one). Null is
/// an empty spec; anything else is returned as it is.
pub fn whole(rgd: &ResourceGraphDefinition, raw: &Value) -> Value {
    let spec_field = |k: &str| {
        rgd.spec
            .schema
            .spec
            .as_ref()
            .is_some_and(|f| f.contains_key(k))
    };
    match raw {
        Value::Object(m)
            if m.contains_key("spec")
                || m.contains_key("apiVersion")
                || m.contains_key("kind")
                || (m.contains_key("metadata") && !spec_field("metadata")) =>
        {
            raw.clone()
        }
        Value::Object(_) => json!({"spec": raw}),
        Value::Null => json!({"spec": {}}),
        other => other.clone(),
    }
}

/// Validates and defaults an instance of `rgd`. `raw` is the instance object
/// (`apiVersion`, `kind`, `metadata`, `spec`), or just its spec when it has no
/// `spec` key; `namespace` is used when the instance does not name one.
///
/// ```
/// use serde_json::json;
/// let rgd = &kroxide_model::load_str("x.yaml", r#"
/// apiVersion: kro.run/v1alpha1
/// kind: ResourceGraphDefinition
/// metadata: {name: web}
/// spec:
///   schema: {apiVersion: v1alpha1, kind: WebApp, spec: {name: string | required=true, replicas: integer | default=2}}
/// "#).unwrap()[0].rgd;
/// let i = kroxide_semantics::instance::prepare(rgd, &json!({"spec": {"name": "a"}}), "dev").unwrap();
/// assert_eq!(i["spec"]["replicas"], 2);
/// assert_eq!(i["metadata"]["namespace"], "dev");
/// let e = kroxide_semantics::instance::prepare(rgd, &json!({"spec": {"replicas": "x"}}), "dev").unwrap_err();
/// assert_eq!(e.problems.len(), 2);
/// ```
pub fn prepare(
    rgd: &ResourceGraphDefinition,
    raw: &Value,
    namespace: &str,
) -> Result<Value, InstanceError> {
    let names = InstanceNames::of(rgd);
    let mut problems = Vec::new();
    let mut obj = match raw {
        Value::Object(_) | Value::Null => whole(rgd, raw),
        other => {
            return Err(InstanceError {
                problems: vec![(
                    FieldPath::root(),
                    format!("expected an object, got {other}"),
                )],
            })
        }
    };
    // A whole object holds nothing else: spec fields written at the top
    // level next to `metadata` would otherwise be dropped without a word.
    if let Some(m) = obj.as_object() {
        for k in m.keys() {
            if !matches!(
                k.as_str(),
                "apiVersion" | "kind" | "metadata" | "spec" | "status"
            ) {
                problems.push((
                    FieldPath::root().key(k),
                    "unknown field of an instance (apiVersion, kind, metadata, spec, status): spec fields go under `spec:`".into(),
                ));
            }
        }
    }
    let api_version = names.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        None => obj["apiVersion"] = json!(api_version),
        Some(a) if a == api_version => {}
        Some(a) => problems.push((
            FieldPath::root().key("apiVersion"),
            format!("is {a}, expected {api_version}"),
        )),
    }
    match obj.get("kind").and_then(Value::as_str) {
        None => obj["kind"] = json!(names.kind),
        Some(k) if k == names.kind => {}
        Some(k) => problems.push((
            FieldPath::root().key("kind"),
            format!("is {k}, expected {}", names.kind),
        )),
    }
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    if obj["metadata"]
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        obj["metadata"]["name"] = json!(rgd.name());
    }
    if let Some(why) = obj["metadata"]["name"].as_str().and_then(name_problem) {
        problems.push((FieldPath::root().key("metadata").key("name"), why));
    }
    if names.namespaced && obj["metadata"].get("namespace").is_none() {
        obj["metadata"]["namespace"] = json!(namespace);
    }
    let schema = match spec_schema(rgd) {
        Ok(s) => s,
        Err(e) => {
            problems.push((
                FieldPath::root(),
                format!("the graph's spec schema is invalid: {e}"),
            ));
            return Err(InstanceError { problems });
        }
    };
    if obj.get("spec").is_none_or(Value::is_null) {
        obj["spec"] = json!({});
    }
    let opts = Options {
        unknown_fields: UnknownFields::Reject,
        apply_defaults: true,
        expressions: false,
        cel_rules: true,
    };
    for v in validate(&mut obj["spec"], &schema, &Definitions::default(), opts) {
        problems.push((FieldPath::root().key("spec").join(&v.path), v.message));
    }
    if problems.is_empty() {
        Ok(obj)
    } else {
        Err(InstanceError { problems })
    }
}
