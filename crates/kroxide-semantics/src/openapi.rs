//! OpenAPI v3 schemas as Kubernetes uses them (CRD `JSONSchemaProps`), and a
//! structural validator with the API server's defaulting.
//!
//! One validator serves every check kroxide makes against a schema: an RGD
//! against KRO's RGD CRD, templates of built-in kinds against the Kubernetes
//! API schema, and instances against the CRD computed from SimpleSchema.

use crate::cel::{default_engine, EvalError, Vars};
use crate::expr::{parse_string, StringValue};
use indexmap::IndexMap;
use kroxide_model::{FieldPath, PathSegment};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// A schema node (the subset of `JSONSchemaProps` kroxide reads and writes).
/// Field order follows the Go struct, so emitted CRDs read like KRO's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    #[serde(rename = "$ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_items: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_items: Option<bool>,
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub enum_: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_properties: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_properties: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<Schema>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<IndexMap<String, Schema>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_properties: Option<AdditionalProperties>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
    #[serde(
        rename = "x-kubernetes-embedded-resource",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub x_embedded_resource: Option<bool>,
    #[serde(
        rename = "x-kubernetes-int-or-string",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub x_int_or_string: Option<bool>,
    #[serde(
        rename = "x-kubernetes-list-map-keys",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub x_list_map_keys: Option<Vec<String>>,
    #[serde(
        rename = "x-kubernetes-list-type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub x_list_type: Option<String>,
    #[serde(
        rename = "x-kubernetes-map-type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub x_map_type: Option<String>,
    #[serde(
        rename = "x-kubernetes-preserve-unknown-fields",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub x_preserve_unknown_fields: Option<bool>,
    #[serde(
        rename = "x-kubernetes-validations",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub x_validations: Option<Vec<ValidationRule>>,
}

/// `additionalProperties`: a schema for every other key, or a yes/no.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AdditionalProperties {
    Bool(bool),
    Schema(Box<Schema>),
}

/// One `x-kubernetes-validations` CEL rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationRule {
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Schema {
    /// A schema of one type.
    pub fn of_type(t: &str) -> Self {
        Schema {
            type_: Some(t.to_string()),
            ..Schema::default()
        }
    }

    /// Follows `path` (field names, or `[]`-free indices) through properties,
    /// items and additionalProperties.
    pub fn at<'a, S: AsRef<str>>(
        &'a self,
        path: &[S],
        defs: &'a Definitions,
    ) -> Option<&'a Schema> {
        let mut cur = defs.resolve(self);
        for seg in path {
            cur = defs.resolve(cur.child(seg.as_ref(), defs)?);
        }
        Some(cur)
    }

    /// The schema of child `key` (property, map value or list item).
    pub fn child<'a>(&'a self, key: &str, defs: &'a Definitions) -> Option<&'a Schema> {
        let s = defs.resolve(self);
        if let Some(p) = s.properties.as_ref().and_then(|p| p.get(key)) {
            return Some(p);
        }
        if let Some(AdditionalProperties::Schema(a)) = s.additional_properties.as_ref() {
            return Some(a);
        }
        if let Some(items) = &s.items {
            if key.parse::<usize>().is_ok() {
                return Some(items);
            }
        }
        None
    }

    fn preserves_unknown(&self) -> bool {
        self.x_preserve_unknown_fields == Some(true)
    }

    fn is_int_or_string(&self) -> bool {
        self.x_int_or_string == Some(true) || self.format.as_deref() == Some("int-or-string")
    }

    /// Whether the API server would take `v` in a field of this schema, as
    /// far as its JSON type goes (null, an int-or-string, a quantity, a
    /// field that preserves unknown fields or names no type: anything).
    pub fn admits(&self, v: &Value, defs: &Definitions) -> bool {
        let s = defs.resolve(self);
        if v.is_null() || s.is_int_or_string() || s.preserves_unknown() {
            return true;
        }
        if s.format.as_deref() == Some("quantity") {
            return v.is_string() || v.is_number();
        }
        match s.type_.as_deref() {
            Some("string") => v.is_string(),
            Some("integer") => v.is_i64() || v.is_u64(),
            Some("number") => v.is_number(),
            Some("boolean") => v.is_boolean(),
            Some("array") => v.is_array(),
            Some("object") => v.is_object(),
            _ => true,
        }
    }

    /// Human name of the expected type, for messages.
    pub fn type_name(&self) -> String {
        if self.is_int_or_string() {
            return "integer or string".into();
        }
        if self.format.as_deref() == Some("quantity") {
            return "quantity (string or number)".into();
        }
        self.type_.clone().unwrap_or_else(|| "any value".into())
    }
}

/// Named schemas that `$ref`s point to (Kubernetes definitions).
#[derive(Clone, Debug, Default)]
pub struct Definitions(pub HashMap<String, Schema>);

impl Definitions {
    /// `s` itself, or the definition it refers to.
    pub fn resolve<'a>(&'a self, s: &'a Schema) -> &'a Schema {
        let mut cur = s;
        for _ in 0..16 {
            match cur
                .reference
                .as_deref()
                .and_then(|r| self.0.get(r.trim_start_matches("#/components/schemas/")))
            {
                Some(next) => cur = next,
                None => break,
            }
        }
        cur
    }
}

/// What to do with a field the schema does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownFields {
    /// Report it (`fieldValidation=Strict`).
    Reject,
    /// Drop it silently, as the API server does for CRDs.
    Prune,
}

/// How to validate.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub unknown_fields: UnknownFields,
    /// Fill defaults of missing fields (and drop nulls), as the API server does.
    pub apply_defaults: bool,
    /// Strings may hold `${...}`: standalone expressions are not checked here
    /// (their type is known only to the CEL checker); string templates must
    /// sit where a string is allowed.
    pub expressions: bool,
    /// Evaluate `x-kubernetes-validations` rules.
    pub cel_rules: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            unknown_fields: UnknownFields::Reject,
            apply_defaults: false,
            expressions: false,
            cel_rules: true,
        }
    }
}

/// One way a value does not fit its schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub path: FieldPath,
    pub message: String,
}

/// Validates (and, with [`Options::apply_defaults`], defaults and prunes)
/// `value` against `schema`. Returns every violation, in document order.
///
/// ```
/// use kroxide_semantics::openapi::{validate, Definitions, Options, Schema};
/// let schema: Schema = serde_json::from_value(serde_json::json!({
///     "type": "object", "required": ["name"],
///     "properties": {"name": {"type": "string"}, "replicas": {"type": "integer", "default": 1}}
/// })).unwrap();
/// let mut v = serde_json::json!({"name": "web"});
/// let opts = Options { apply_defaults: true, ..Options::default() };
/// assert!(validate(&mut v, &schema, &Definitions::default(), opts).is_empty());
/// assert_eq!(v["replicas"], 1);
/// let errs = validate(&mut serde_json::json!({"replicas": "two"}), &schema, &Definitions::default(), opts);
/// assert_eq!(errs.len(), 2);
/// ```
pub fn validate(
    value: &mut Value,
    schema: &Schema,
    defs: &Definitions,
    opts: Options,
) -> Vec<Violation> {
    if opts.apply_defaults || opts.unknown_fields == UnknownFields::Prune {
        normalize(value, schema, defs, opts);
    }
    check(value, schema, defs, opts)
}

/// Validates `value` against `schema` without changing it: as [`validate`],
/// but defaults are not applied and unknown fields are reported whatever
/// [`Options::unknown_fields`] says (nothing can be pruned).
pub fn check(value: &Value, schema: &Schema, defs: &Definitions, opts: Options) -> Vec<Violation> {
    let mut out = Vec::new();
    Validator {
        defs,
        opts,
        out: &mut out,
        path: FieldPath::root(),
    }
    .node(value, schema);
    out
}

/// How the schema of an object treats one of its keys.
enum Child<'s> {
    /// Validated against this schema.
    Typed(&'s Schema),
    /// Allowed, not validated.
    Free,
    /// Not allowed.
    Unknown,
}

fn child_of<'s>(schema: &'s Schema, key: &str) -> Child<'s> {
    let props = schema.properties.as_ref();
    match (
        props.and_then(|p| p.get(key)),
        schema.additional_properties.as_ref(),
    ) {
        (Some(c), _) => Child::Typed(c),
        (None, Some(AdditionalProperties::Schema(a))) => Child::Typed(a),
        (None, Some(AdditionalProperties::Bool(true))) => Child::Free,
        _ if schema.preserves_unknown()
            || (props.is_none() && schema.additional_properties.is_none())
                && (schema.type_.is_none() || is_free_object(schema)) =>
        {
            Child::Free
        }
        _ => Child::Unknown,
    }
}

/// Whether a JSON value of type `actual` fits `schema`'s type.
fn type_fits(schema: &Schema, actual: &str) -> bool {
    if schema.is_int_or_string() {
        matches!(actual, "integer" | "string")
    } else if schema.format.as_deref() == Some("quantity") {
        matches!(actual, "integer" | "number" | "string")
    } else {
        match schema.type_.as_deref() {
            None => true,
            Some("number") => matches!(actual, "integer" | "number"),
            Some(t) => t == actual,
        }
    }
}

/// Applies defaults (dropping nulls, as the API server does) and prunes
/// unknown fields, as `opts` asks, before [`check`] looks at the result.
fn normalize(value: &mut Value, schema: &Schema, defs: &Definitions, opts: Options) {
    let schema = defs.resolve(schema);
    match value {
        Value::Object(map) if type_fits(schema, "object") => {
            if opts.apply_defaults {
                map.retain(|_, v| !v.is_null());
                for (k, s) in schema.properties.iter().flatten() {
                    if let (false, Some(d)) = (map.contains_key(k), &defs.resolve(s).default) {
                        map.insert(k.clone(), d.clone());
                    }
                }
            }
            if opts.unknown_fields == UnknownFields::Prune {
                map.retain(|k, _| !matches!(child_of(schema, k), Child::Unknown));
            }
            for (k, v) in map.iter_mut() {
                if let Child::Typed(c) = child_of(schema, k) {
                    normalize(v, c, defs, opts);
                }
            }
        }
        Value::Array(items) if type_fits(schema, "array") => {
            if let Some(s) = &schema.items {
                items.iter_mut().for_each(|v| normalize(v, s, defs, opts));
            }
        }
        _ => {}
    }
}

struct Validator<'a> {
    defs: &'a Definitions,
    opts: Options,
    out: &'a mut Vec<Violation>,
    /// Where the walk is: segments are pushed and popped, never copied,
    /// and a copy is made only for a violation.
    path: FieldPath,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(57).map(|(i, _)| i).unwrap_or(s.len())]
        )
    } else {
        s
    }
}

impl Validator<'_> {
    fn err(&mut self, message: String) {
        self.out.push(Violation {
            path: self.path.clone(),
            message,
        });
    }

    /// Runs `f` with `seg` appended to the current path.
    fn at<R>(&mut self, seg: PathSegment, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.0.push(seg);
        let r = f(self);
        self.path.0.pop();
        r
    }

    fn node(&mut self, value: &Value, schema: &Schema) {
        let schema = self.defs.resolve(schema);
        if self.opts.expressions {
            if let Value::String(s) = value {
                match parse_string(s) {
                    Ok(StringValue::Standalone(_)) => return,
                    Ok(StringValue::Template(_)) => {
                        let t = schema.type_.as_deref();
                        let stringy = t.is_none()
                            || t == Some("string")
                            || schema.is_int_or_string()
                            || schema.preserves_unknown();
                        if !stringy {
                            self.err(
                                format!(
                                    "a string template always gives a string, but this field expects {}; use a single ${{...}} expression for a typed value",
                                    schema.type_name()
                                ),
                            );
                        }
                        return;
                    }
                    Err(e) => {
                        self.err(e.to_string());
                        return;
                    }
                    Ok(StringValue::Literal(_)) => {}
                }
            }
        }
        // The API server treats null as "unset".
        if value.is_null() {
            return;
        }
        if !self.type_ok(value, schema) {
            return;
        }
        match value {
            Value::Object(map) => self.object(map, schema),
            Value::Array(items) => self.array(items, schema),
            Value::String(s) => self.string(s, schema),
            Value::Number(_) => self.number(value, schema),
            _ => {}
        }
        if let Some(e) = &schema.enum_ {
            if !e.contains(value) {
                let allowed: Vec<String> = e.iter().map(short).collect();
                self.err(format!(
                    "unsupported value {}: expected one of {}",
                    short(value),
                    allowed.join(", ")
                ));
            }
        }
        if self.opts.cel_rules {
            self.rules(value, schema);
        }
    }

    fn type_ok(&mut self, value: &Value, schema: &Schema) -> bool {
        let actual = json_type(value);
        if type_fits(schema, actual) {
            return true;
        }
        self.err(format!(
            "expected {}, got {} {}",
            schema.type_name(),
            actual,
            short(value)
        ));
        false
    }

    fn object(&mut self, map: &Map<String, Value>, schema: &Schema) {
        for (k, v) in map {
            match child_of(schema, k) {
                Child::Typed(c) => self.at(PathSegment::Key(k.clone()), |me| me.node(v, c)),
                Child::Free => {}
                Child::Unknown => {
                    let known: Vec<&str> = schema
                        .properties
                        .iter()
                        .flat_map(|p| p.keys().map(String::as_str))
                        .collect();
                    let hint = closest(k, &known)
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default();
                    self.at(PathSegment::Key(k.clone()), |me| {
                        me.err(format!("unknown field `{k}`{hint}"))
                    });
                }
            }
        }
        if let Some(req) = &schema.required {
            for r in req {
                let present = map.get(r).is_some_and(|v| !v.is_null());
                if !present {
                    self.at(PathSegment::Key(r.clone()), |me| {
                        me.err(format!("required field `{r}` is missing"))
                    });
                }
            }
        }
        if let Some(min) = schema.min_properties {
            if (map.len() as u64) < min {
                self.err(format!(
                    "must have at least {min} properties, has {}",
                    map.len()
                ));
            }
        }
        if let Some(max) = schema.max_properties {
            if (map.len() as u64) > max {
                self.err(format!(
                    "must have at most {max} properties, has {}",
                    map.len()
                ));
            }
        }
    }

    fn array(&mut self, items: &[Value], schema: &Schema) {
        if let Some(s) = &schema.items {
            for (i, v) in items.iter().enumerate() {
                self.at(PathSegment::Index(i), |me| me.node(v, s));
            }
        }
        let n = items.len() as u64;
        if let Some(min) = schema.min_items {
            if n < min {
                self.err(format!("must have at least {min} items, has {n}"));
            }
        }
        if let Some(max) = schema.max_items {
            if n > max {
                self.err(format!("must have at most {max} items, has {n}"));
            }
        }
        let unique =
            schema.unique_items == Some(true) || schema.x_list_type.as_deref() == Some("set");
        if unique {
            for i in 0..items.len() {
                if items[..i].contains(&items[i]) {
                    let m = format!("duplicate value {}: items must be unique", short(&items[i]));
                    self.at(PathSegment::Index(i), |me| me.err(m));
                }
            }
        }
    }

    fn string(&mut self, s: &str, schema: &Schema) {
        let n = s.chars().count() as u64;
        if let Some(min) = schema.min_length {
            if n < min {
                self.err(format!("must be at least {min} characters long, is {n}"));
            }
        }
        if let Some(max) = schema.max_length {
            if n > max {
                self.err(format!("must be at most {max} characters long, is {n}"));
            }
        }
        if let Some(p) = &schema.pattern {
            match cached_regex(p) {
                Some(re) if !re.is_match(s) => {
                    self.err(format!("{:?} does not match the pattern {p:?}", s));
                }
                _ => {}
            }
        }
    }

    fn number(&mut self, v: &Value, schema: &Schema) {
        let Some(x) = v.as_f64() else { return };
        if let Some(min) = schema.minimum {
            if x < min {
                self.err(format!("{} is less than the minimum {}", v, fmt_num(min)));
            }
        }
        if let Some(max) = schema.maximum {
            if x > max {
                self.err(format!(
                    "{} is greater than the maximum {}",
                    v,
                    fmt_num(max)
                ));
            }
        }
    }

    fn rules(&mut self, value: &Value, schema: &Schema) {
        let Some(rules) = &schema.x_validations else {
            return;
        };
        for r in rules {
            // Transition rules need the old object; there is none offline.
            if r.rule.contains("oldSelf") {
                continue;
            }
            let Ok(p) = default_engine().compile(&r.rule) else {
                continue;
            };
            let mut vars = Vars::new();
            vars.add("self", value);
            match p.eval(&vars) {
                Ok(Value::Bool(false)) => {
                    let msg = r
                        .message
                        .clone()
                        .unwrap_or_else(|| format!("failed rule: {}", r.rule));
                    self.err(msg);
                }
                Ok(_) | Err(EvalError::Pending(_)) | Err(EvalError::Failed(_)) => {}
            }
        }
    }
}

fn is_free_object(s: &Schema) -> bool {
    s.type_.as_deref() == Some("object")
        && s.properties.is_none()
        && s.additional_properties.is_none()
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

fn cached_regex(p: &str) -> Option<regex::Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    let mut m = CACHE.get_or_init(Default::default).lock().ok()?;
    m.entry(p.to_string())
        .or_insert_with(|| regex::Regex::new(p).ok())
        .clone()
}

/// The known name closest to `k` (for "did you mean"), if any is close.
pub fn closest<'a>(k: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|c| {
            (
                levenshtein(&k.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                *c,
            )
        })
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min()
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Schema {
        serde_json::from_value(v).unwrap()
    }

    fn errs(v: Value, s: &Schema, opts: Options) -> Vec<String> {
        let mut v = v;
        validate(&mut v, s, &Definitions::default(), opts)
            .into_iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect()
    }

    #[test]
    fn types_required_unknown() {
        let s = schema(json!({"type": "object", "required": ["a"], "properties": {
            "a": {"type": "integer", "minimum": 1, "maximum": 3},
            "b": {"type": "array", "items": {"type": "string", "pattern": "^x"}, "maxItems": 1},
            "c": {"type": "string", "enum": ["p", "q"]}
        }}));
        let o = Options::default();
        assert_eq!(errs(json!({"a": 2}), &s, o), Vec::<String>::new());
        assert_eq!(
            errs(json!({"a": "two"}), &s, o),
            ["a: expected integer, got string \"two\""]
        );
        assert_eq!(
            errs(json!({"a": 9}), &s, o),
            ["a: 9 is greater than the maximum 3"]
        );
        assert_eq!(errs(json!({}), &s, o), ["a: required field `a` is missing"]);
        assert_eq!(
            errs(json!({"a": 1, "bb": 1}), &s, o),
            ["bb: unknown field `bb` (did you mean `b`?)"]
        );
        assert_eq!(
            errs(json!({"a": 1, "b": ["x", "y"]}), &s, o),
            [
                "b[1]: \"y\" does not match the pattern \"^x\"",
                "b: must have at most 1 items, has 2"
            ]
        );
        assert_eq!(
            errs(json!({"a": 1, "c": "r"}), &s, o),
            ["c: unsupported value \"r\": expected one of \"p\", \"q\""]
        );
    }

    #[test]
    fn expressions_are_typed_by_shape() {
        let s = schema(
            json!({"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}}}),
        );
        let o = Options {
            expressions: true,
            ..Options::default()
        };
        assert!(errs(json!({"n": "${schema.spec.n}", "s": "x-${a}"}), &s, o).is_empty());
        let e = errs(json!({"n": "${a}-x"}), &s, o);
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with(
                "n: a string template always gives a string, but this field expects integer"
            ),
            "{e:?}"
        );
    }

    #[test]
    fn defaults_and_pruning() {
        let s = schema(json!({"type": "object", "properties": {
            "o": {"type": "object", "default": {}, "properties": {"x": {"type": "integer", "default": 3}}}
        }}));
        let mut v = json!({"junk": 1});
        let o = Options {
            apply_defaults: true,
            unknown_fields: UnknownFields::Prune,
            ..Options::default()
        };
        assert!(validate(&mut v, &s, &Definitions::default(), o).is_empty());
        assert_eq!(v, json!({"o": {"x": 3}}));
    }

    #[test]
    fn check_changes_nothing_and_prunes_nothing() {
        let s = schema(json!({"type": "object", "properties": {
            "o": {"type": "object", "default": {}, "properties": {"x": {"type": "integer", "default": 3}}}
        }}));
        let v = json!({"junk": 1, "o": {"x": "three"}});
        let o = Options {
            apply_defaults: true,
            unknown_fields: UnknownFields::Prune,
            ..Options::default()
        };
        let found: Vec<String> = check(&v, &s, &Definitions::default(), o)
            .into_iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect();
        assert_eq!(
            found,
            [
                "junk: unknown field `junk`",
                "o.x: expected integer, got string \"three\""
            ]
        );
        // validate with the same options prunes `junk` and reports the rest.
        assert_eq!(
            errs(v, &s, o),
            ["o.x: expected integer, got string \"three\""]
        );
    }

    #[test]
    fn cel_rules_run() {
        let s = schema(
            json!({"type": "integer", "x-kubernetes-validations": [{"rule": "self <= 10 || self % 2 == 0", "message": "validation failed"}]}),
        );
        assert!(errs(json!(12), &s, Options::default()).is_empty());
        assert_eq!(
            errs(json!(13), &s, Options::default()),
            [": validation failed"]
        );
    }
}
