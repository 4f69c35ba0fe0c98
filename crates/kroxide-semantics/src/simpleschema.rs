//! SimpleSchema, exactly as KRO v0.9 reads it, turned into OpenAPI.
//!
//! A field is `type | marker=value ...`. Types: `string`, `integer`,
//! `float`, `boolean`, `object` (free-form), `[]T`, `map[string]T`, and the
//! names of custom types declared under `types`. Nested maps are objects.
//! `number` is not a type: KRO rejects it.

use crate::openapi::{AdditionalProperties, Schema, ValidationRule};
use indexmap::IndexMap;
use kroxide_model::{FieldNode, FieldPath, FieldTree};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A SimpleSchema error, with the path of the field it is about.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SchemaError {
    /// Path inside the tree being read (`spec.database.port`, `types.Port`).
    pub path: FieldPath,
    pub message: String,
}

/// A parsed type expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeExpr {
    String,
    Integer,
    Float,
    Boolean,
    /// `object`: any object, unknown fields kept.
    Object,
    Slice(Box<TypeExpr>),
    Map(Box<TypeExpr>),
    /// A custom type from `types`.
    Custom(String),
}

/// `key=value` after the `|`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub key: String,
    pub value: String,
}

/// The markers KRO understands.
pub const MARKERS: &[&str] = &[
    "required",
    "default",
    "description",
    "enum",
    "minimum",
    "maximum",
    "pattern",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "listType",
    "listMapKey",
    "immutable",
    "validation",
];

const MAX_TYPE_DEPTH: usize = 16;

/// Parses the type part of a field (before any `|`).
///
/// ```
/// use kroxide_semantics::simpleschema::{parse_type, TypeExpr};
/// assert_eq!(parse_type("[]map[string]integer").unwrap(),
///     TypeExpr::Slice(Box::new(TypeExpr::Map(Box::new(TypeExpr::Integer)))));
/// assert!(parse_type("number").is_err());
/// ```
pub fn parse_type(s: &str) -> Result<TypeExpr, String> {
    parse_type_depth(s.trim(), 0)
}

fn parse_type_depth(s: &str, depth: usize) -> Result<TypeExpr, String> {
    if depth > MAX_TYPE_DEPTH {
        return Err(format!("type nesting too deep (max {MAX_TYPE_DEPTH})"));
    }
    let s = s.trim();
    Ok(match s {
        "" => return Err("empty type".into()),
        "string" => TypeExpr::String,
        "integer" => TypeExpr::Integer,
        "float" => TypeExpr::Float,
        "boolean" => TypeExpr::Boolean,
        "object" => TypeExpr::Object,
        "number" => {
            return Err("`number` is not a SimpleSchema type: use `integer` or `float`".into())
        }
        "int" | "bool" | "str" | "double" => {
            let hint = match s {
                "int" => "integer",
                "bool" => "boolean",
                "str" => "string",
                _ => "float",
            };
            return Err(format!("`{s}` is not a SimpleSchema type: use `{hint}`"));
        }
        _ => {
            if let Some(elem) = s.strip_prefix("[]") {
                if elem.trim().is_empty() {
                    return Err("empty slice element type".into());
                }
                TypeExpr::Slice(Box::new(parse_type_depth(elem, depth + 1)?))
            } else if let Some(rest) = s.strip_prefix("map[") {
                let Some(val) = rest.strip_prefix("string]") else {
                    return Err(format!("map key must be string, in `{s}`"));
                };
                if val.trim().is_empty() {
                    return Err("map value type is required".into());
                }
                TypeExpr::Map(Box::new(parse_type_depth(val, depth + 1)?))
            } else if is_type_name(s) {
                TypeExpr::Custom(s.to_string())
            } else {
                return Err(format!("invalid type `{s}`"));
            }
        }
    })
}

fn is_type_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses the markers after the `|`: space-separated `key=value`, values may
/// be double-quoted (with `\"` escapes) or bracketed (`default=[1, 2]`).
pub fn parse_markers(s: &str) -> Result<Vec<Marker>, String> {
    let mut out = Vec::new();
    let mut key: Option<String> = None;
    let mut buf = String::new();
    let mut in_quotes = false;
    let mut escaped = false;
    let mut depth: i32 = 0;
    let finish = |key: &mut Option<String>, buf: &mut String, out: &mut Vec<Marker>| {
        if let Some(k) = key.take() {
            out.push(Marker {
                key: k,
                value: process_value(buf),
            });
        }
        buf.clear();
    };
    for c in s.chars() {
        match c {
            '=' if key.is_none() && !in_quotes && depth == 0 => {
                let k = buf.trim().to_string();
                if k.is_empty() {
                    return Err("empty marker key".into());
                }
                if !MARKERS.contains(&k.as_str()) {
                    let hint = crate::openapi::closest(&k, MARKERS)
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default();
                    return Err(format!("unknown marker `{k}`{hint}"));
                }
                key = Some(k);
                buf.clear();
            }
            '"' if !escaped => {
                in_quotes = !in_quotes;
                buf.push(c);
            }
            '\\' if in_quotes && !escaped => {
                escaped = true;
                buf.push(c);
            }
            '{' | '[' if !in_quotes => {
                depth += 1;
                buf.push(c);
            }
            '}' | ']' if !in_quotes => {
                depth -= 1;
                if depth < 0 {
                    return Err("unmatched closing bracket/brace".into());
                }
                buf.push(c);
            }
            c if c.is_whitespace() && !in_quotes && depth == 0 => {
                if key.is_some() {
                    finish(&mut key, &mut buf, &mut out);
                } else if !buf.trim().is_empty() {
                    return Err(format!(
                        "marker `{}` has no value (expected key=value)",
                        buf.trim()
                    ));
                }
            }
            c => {
                if escaped && in_quotes {
                    escaped = false;
                }
                buf.push(c);
            }
        }
    }
    if in_quotes {
        return Err("unclosed quote".into());
    }
    if depth > 0 {
        return Err("unclosed bracket/brace".into());
    }
    if key.is_some() {
        finish(&mut key, &mut buf, &mut out);
    } else if !buf.trim().is_empty() {
        return Err(format!(
            "marker `{}` has no value (expected key=value)",
            buf.trim()
        ));
    }
    Ok(out)
}

fn process_value(v: &str) -> String {
    let t = v.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        let inner = &t[1..t.len() - 1];
        let mut out = String::new();
        let mut esc = false;
        for c in inner.chars() {
            if esc {
                if c != '"' && c != '\\' {
                    out.push('\\');
                }
                out.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else {
                out.push(c);
            }
        }
        out
    } else {
        t.to_string()
    }
}

/// Splits `type | markers`.
pub fn parse_field(s: &str) -> Result<(TypeExpr, Vec<Marker>), String> {
    let (t, m) = match s.split_once('|') {
        Some((t, m)) => (t, Some(m)),
        None => (s, None),
    };
    let ty = parse_type(t)?;
    let markers = match m {
        Some(m) => parse_markers(m)?,
        None => Vec::new(),
    };
    Ok((ty, markers))
}

#[derive(Clone, Debug)]
struct Custom {
    schema: Schema,
    required: bool,
}

/// Turns SimpleSchema into OpenAPI, with custom types resolved.
#[derive(Debug, Default)]
pub struct Transformer {
    custom: BTreeMap<String, Custom>,
}

impl Transformer {
    /// Loads custom types (`spec.schema.types`), in dependency order;
    /// cyclic and unknown type references are errors.
    pub fn new(types: Option<&FieldTree>) -> Result<Self, SchemaError> {
        let mut t = Transformer::default();
        let Some(types) = types else { return Ok(t) };
        let root = FieldPath::root().key("types");
        // Dependencies between custom types.
        let mut deps: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (name, node) in types {
            let mut d = BTreeSet::new();
            collect_deps(node, &root.key(name.clone()), &mut d)?;
            deps.insert(name, d);
        }
        for (name, d) in &deps {
            for dep in d {
                if !types.contains_key(dep) {
                    return Err(SchemaError {
                        path: root.key(name.to_string()),
                        message: format!("unknown type `{dep}`"),
                    });
                }
            }
        }
        // Kahn over type names, alphabetical for determinism.
        let mut done: BTreeSet<String> = BTreeSet::new();
        while done.len() < types.len() {
            let next = deps
                .iter()
                .find(|(n, d)| !done.contains(**n) && d.iter().all(|x| done.contains(x)))
                .map(|(n, _)| n.to_string());
            let Some(name) = next else {
                let left: Vec<&str> = deps
                    .keys()
                    .filter(|n| !done.contains(**n))
                    .copied()
                    .collect();
                let cycle = find_type_cycle(&deps, &left);
                return Err(SchemaError {
                    path: root.key(cycle[0].clone()),
                    message: format!("cyclic dependency between types: {}", cycle.join(" -> ")),
                });
            };
            let path = root.key(name.clone());
            let custom = match &types[&name] {
                FieldNode::Leaf(s) => {
                    let mut parent = Schema::default();
                    let schema = t.field(&name, s, &mut parent, &path)?;
                    Custom {
                        schema,
                        required: parent.required.is_some_and(|r| !r.is_empty()),
                    }
                }
                FieldNode::Object(m) => Custom {
                    schema: t.object(m, &path)?,
                    required: false,
                },
                FieldNode::List(_) => return Err(not_a_type(&path)),
            };
            t.custom.insert(name.clone(), custom);
            done.insert(name);
        }
        Ok(t)
    }

    /// The OpenAPI schema of an object of fields (the instance `spec`, a
    /// nested object, or a custom struct type).
    pub fn object(&self, fields: &FieldTree, path: &FieldPath) -> Result<Schema, SchemaError> {
        let mut schema = Schema::of_type("object");
        let mut props = IndexMap::new();
        let mut names: Vec<&String> = fields.keys().collect();
        names.sort();
        let mut child_has_default = false;
        for name in names {
            let p = path.key(name.clone());
            let s = match &fields[name] {
                FieldNode::Leaf(v) => self.field(name, v, &mut schema, &p)?,
                FieldNode::Object(m) => self.object(m, &p)?,
                FieldNode::List(_) => return Err(not_a_type(&p)),
            };
            child_has_default |= s.default.is_some();
            props.insert(name.clone(), s);
        }
        schema.properties = Some(props);
        if let Some(r) = &mut schema.required {
            r.sort();
            r.dedup();
        }
        let no_required = schema.required.as_ref().is_none_or(|r| r.is_empty());
        if no_required && child_has_default && schema.default.is_none() {
            schema.default = Some(Value::Object(Default::default()));
        }
        Ok(schema)
    }

    fn type_schema(&self, t: &TypeExpr) -> Result<Schema, String> {
        Ok(match t {
            TypeExpr::String => Schema::of_type("string"),
            TypeExpr::Integer => Schema::of_type("integer"),
            TypeExpr::Float => Schema::of_type("number"),
            TypeExpr::Boolean => Schema::of_type("boolean"),
            TypeExpr::Object => Schema {
                x_preserve_unknown_fields: Some(true),
                ..Schema::of_type("object")
            },
            TypeExpr::Slice(e) => Schema {
                items: Some(Box::new(self.type_schema(e)?)),
                ..Schema::of_type("array")
            },
            TypeExpr::Map(v) => Schema {
                additional_properties: Some(AdditionalProperties::Schema(Box::new(
                    self.type_schema(v)?,
                ))),
                ..Schema::of_type("object")
            },
            TypeExpr::Custom(name) => match self.custom.get(name) {
                Some(c) => c.schema.clone(),
                None => return Err(format!("unknown type `{name}`")),
            },
        })
    }

    /// The schema of one `type | markers` field; may add `name` to
    /// `parent.required`.
    pub fn field(
        &self,
        name: &str,
        spec: &str,
        parent: &mut Schema,
        path: &FieldPath,
    ) -> Result<Schema, SchemaError> {
        let err = |message: String| SchemaError {
            path: path.clone(),
            message,
        };
        let (ty, markers) = parse_field(spec).map_err(err)?;
        let mut schema = self.type_schema(&ty).map_err(err)?;
        if let TypeExpr::Custom(c) = &ty {
            if self.custom.get(c).is_some_and(|c| c.required) {
                parent
                    .required
                    .get_or_insert_with(Vec::new)
                    .push(name.to_string());
            }
        }
        apply_markers(&mut schema, &markers, name, parent).map_err(err)?;
        Ok(schema)
    }
}

fn collect_deps(
    node: &FieldNode,
    path: &FieldPath,
    out: &mut BTreeSet<String>,
) -> Result<(), SchemaError> {
    match node {
        FieldNode::Leaf(s) => {
            let (t, _) = parse_field(s).map_err(|message| SchemaError {
                path: path.clone(),
                message,
            })?;
            let mut t = &t;
            loop {
                match t {
                    TypeExpr::Slice(e) | TypeExpr::Map(e) => t = e,
                    TypeExpr::Custom(c) => {
                        out.insert(c.clone());
                        break;
                    }
                    _ => break,
                }
            }
        }
        FieldNode::Object(m) => {
            for (k, v) in m {
                collect_deps(v, &path.key(k.clone()), out)?;
            }
        }
        FieldNode::List(_) => return Err(not_a_type(path)),
    }
    Ok(())
}

/// A YAML list where SimpleSchema wants a type or a map of fields.
fn not_a_type(path: &FieldPath) -> SchemaError {
    SchemaError {
        path: path.clone(),
        message: "a YAML list is not a SimpleSchema type: write a list type as a string, e.g. `[]string` or `\"[]integer | default=[]\"`".into(),
    }
}

fn find_type_cycle(deps: &BTreeMap<&str, BTreeSet<String>>, left: &[&str]) -> Vec<String> {
    // Walk from the first remaining type until a name repeats.
    let mut seen: Vec<String> = Vec::new();
    let mut cur = left[0].to_string();
    loop {
        if let Some(i) = seen.iter().position(|s| *s == cur) {
            let mut c = seen[i..].to_vec();
            c.push(cur);
            return c;
        }
        seen.push(cur.clone());
        let next = deps
            .get(cur.as_str())
            .and_then(|d| d.iter().find(|x| left.contains(&x.as_str())).cloned());
        match next {
            Some(n) => cur = n,
            None => return seen,
        }
    }
}

fn parse_bool(v: &str, marker: &str) -> Result<bool, String> {
    match v {
        "true" | "True" | "TRUE" | "1" | "t" | "T" => Ok(true),
        "false" | "False" | "FALSE" | "0" | "f" | "F" => Ok(false),
        _ => Err(format!("{marker}={v}: expected true or false")),
    }
}

fn parse_count(v: &str, marker: &str) -> Result<u64, String> {
    v.parse::<u64>()
        .map_err(|_| format!("{marker}={v}: expected a non-negative integer"))
}

fn apply_markers(
    schema: &mut Schema,
    markers: &[Marker],
    name: &str,
    parent: &mut Schema,
) -> Result<(), String> {
    let ty = schema.type_.clone().unwrap_or_default();
    for m in markers {
        let v = m.value.as_str();
        match m.key.as_str() {
            "required" => {
                if parse_bool(v, "required")? {
                    parent
                        .required
                        .get_or_insert_with(Vec::new)
                        .push(name.to_string());
                }
            }
            "default" => {
                let d = if ty == "string" {
                    Value::String(v.to_string())
                } else {
                    serde_json::from_str::<Value>(v).map_err(|_| {
                        format!(
                            "default={v}: not a valid {} value",
                            if ty.is_empty() { "JSON" } else { &ty }
                        )
                    })?
                };
                let fits = match (ty.as_str(), &d) {
                    ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
                    ("number", Value::Number(_)) => true,
                    ("boolean", Value::Bool(_)) => true,
                    ("array", Value::Array(_)) => true,
                    ("object", Value::Object(_)) => true,
                    ("string", _) | ("", _) => true,
                    _ => false,
                };
                if !fits {
                    return Err(format!("default={v}: expected a {ty} value"));
                }
                schema.default = Some(d);
            }
            "description" => schema.description = Some(v.to_string()),
            "minimum" | "maximum" => {
                let x: f64 = v
                    .parse()
                    .map_err(|_| format!("{}={v}: expected a number", m.key))?;
                if !matches!(ty.as_str(), "integer" | "number") {
                    return Err(format!(
                        "{} marker is only valid for integer and float types, got {ty}",
                        m.key
                    ));
                }
                if m.key == "minimum" {
                    schema.minimum = Some(x);
                } else {
                    schema.maximum = Some(x);
                }
            }
            "enum" => {
                let mut vals = Vec::new();
                for e in v.split(',') {
                    let e = e.trim();
                    if e.is_empty() {
                        return Err("empty enum values are not allowed".into());
                    }
                    vals.push(match ty.as_str() {
                        "string" => Value::String(e.to_string()),
                        "integer" => Value::from(
                            e.parse::<i64>()
                                .map_err(|_| format!("enum value `{e}` is not an integer"))?,
                        ),
                        _ => {
                            return Err(format!(
                                "enum values only supported for string and integer types, got {ty}"
                            ))
                        }
                    });
                }
                schema.enum_ = Some(vals);
            }
            "minLength" | "maxLength" | "pattern" if ty != "string" => {
                return Err(format!(
                    "{} marker is only valid for string types, got {ty}",
                    m.key
                ))
            }
            "minLength" => schema.min_length = Some(parse_count(v, "minLength")?),
            "maxLength" => schema.max_length = Some(parse_count(v, "maxLength")?),
            "pattern" => {
                if v.is_empty() {
                    return Err("pattern marker value cannot be empty".into());
                }
                regex::Regex::new(v).map_err(|e| {
                    format!("invalid pattern regex: {}", first_line(&e.to_string()))
                })?;
                schema.pattern = Some(v.to_string());
            }
            "minItems" | "maxItems" | "uniqueItems" | "listType" | "listMapKey"
                if ty != "array" =>
            {
                return Err(format!(
                    "{} marker is only valid for array types, got {ty}",
                    m.key
                ))
            }
            "minItems" => schema.min_items = Some(parse_count(v, "minItems")?),
            "maxItems" => schema.max_items = Some(parse_count(v, "maxItems")?),
            "uniqueItems" => {
                if parse_bool(v, "uniqueItems")? {
                    schema.x_list_type = Some("set".into());
                }
            }
            "listType" => {
                if !matches!(v, "atomic" | "set" | "map") {
                    return Err(format!("listType={v}: expected atomic, set or map"));
                }
                schema.x_list_type = Some(v.to_string());
            }
            "listMapKey" => {
                schema
                    .x_list_map_keys
                    .get_or_insert_with(Vec::new)
                    .extend(v.split(',').map(|k| k.trim().to_string()));
            }
            "validation" => {
                if v.trim().is_empty() {
                    return Err("validation marker needs a CEL rule".into());
                }
                crate::cel::default_engine()
                    .compile(v)
                    .map_err(|e| format!("validation rule `{v}` is not valid CEL: {e}"))?;
                schema.x_validations = Some(vec![ValidationRule {
                    rule: v.to_string(),
                    message: Some("validation failed".into()),
                }]);
            }
            "immutable" => {
                if parse_bool(v, "immutable")? {
                    schema
                        .x_validations
                        .get_or_insert_with(Vec::new)
                        .push(ValidationRule {
                            rule: "self == oldSelf".into(),
                            message: Some("field is immutable".into()),
                        });
                }
            }
            other => return Err(format!("unknown marker `{other}`")),
        }
    }
    if schema.x_list_type.as_deref() == Some("map") && schema.x_list_map_keys.is_none() {
        return Err("listType=map needs listMapKey".into());
    }
    if schema.x_list_map_keys.is_some() && schema.x_list_type.as_deref() != Some("map") {
        return Err("listMapKey needs listType=map".into());
    }
    Ok(())
}

fn first_line(s: &str) -> String {
    s.lines().last().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_parse_like_kro() {
        let m = parse_markers(r#"required=true description="a \"b\" c" default=[1, 2] enum="x,y""#)
            .unwrap();
        let kv: Vec<(&str, &str)> = m
            .iter()
            .map(|m| (m.key.as_str(), m.value.as_str()))
            .collect();
        assert_eq!(
            kv,
            [
                ("required", "true"),
                ("description", "a \"b\" c"),
                ("default", "[1, 2]"),
                ("enum", "x,y")
            ]
        );
        assert!(parse_markers("requird=true")
            .unwrap_err()
            .contains("did you mean `required`"));
        assert!(parse_markers("default=\"x")
            .unwrap_err()
            .contains("unclosed quote"));
        assert!(parse_markers("required").unwrap_err().contains("no value"));
    }

    #[test]
    fn fields_become_openapi() {
        let t = Transformer::default();
        let mut parent = Schema::default();
        let p = FieldPath::root();
        let s = t
            .field(
                "r",
                "integer | default=1 minimum=0 maximum=100",
                &mut parent,
                &p,
            )
            .unwrap();
        assert_eq!(s.default, Some(Value::from(1)));
        assert_eq!((s.minimum, s.maximum), (Some(0.0), Some(100.0)));
        let s = t.field("f", "float", &mut parent, &p).unwrap();
        assert_eq!(s.type_.as_deref(), Some("number"));
        let s = t
            .field("n", "string | required=true", &mut parent, &p)
            .unwrap();
        assert_eq!(s.type_.as_deref(), Some("string"));
        assert_eq!(parent.required, Some(vec!["n".to_string()]));
        assert!(t
            .field("x", "integer | default=abc", &mut parent, &p)
            .is_err());
        assert!(t
            .field("x", "integer | pattern=a", &mut parent, &p)
            .unwrap_err()
            .message
            .contains("only valid for string"));
        assert!(t
            .field("x", "number", &mut parent, &p)
            .unwrap_err()
            .message
            .contains("not a SimpleSchema type"));
        assert!(t
            .field("x", "Foo", &mut parent, &p)
            .unwrap_err()
            .message
            .contains("unknown type `Foo`"));
    }
}
