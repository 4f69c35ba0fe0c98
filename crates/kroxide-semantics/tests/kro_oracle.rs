//! kroxide's CEL against a recorded oracle: what a real KRO did with each
//! expression of `kro_oracle/corpus.txt`, recorded by `scripts/kro-oracle.sh`
//! in `kro_oracle/results.json`. For every case, kroxide validates and plans
//! the same one-field RGD and must do what KRO did: the same value of the
//! same JSON type, rejected iff KRO rejected it (naming the same problem),
//! failed at run time iff KRO failed. Cases where kroxide still differs are
//! listed, with why, as `@known` lines of the corpus; each must still differ.

use kroxide_semantics::plan::{plan, Action, PlanError, PlanOptions};
use kroxide_semantics::validate::validate;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kro_oracle");

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// The value, as JSON text (its JSON type is in the text).
    Value(Value),
    /// Evaluated, but the field was not written.
    Omitted,
    Rejected(String),
    Failed(String),
}

/// The JSON type of a value as its JSON text shows it (`2` is an integer,
/// `2.0` and `1e+21` numbers).
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

/// Equal values of equal JSON types, numbers compared as numbers.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            json_type(a) == json_type(b) && x.as_f64() == y.as_f64()
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

/// The words of KRO's rejection that name the problem: the unknown
/// identifiers, the undefined field, the operator or function without an
/// overload, the mismatched type. kroxide's message must contain one of each.
fn problem_words(kro: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let between = |s: &str, open: &str, close: char| -> Option<String> {
        let i = s.find(open)? + open.len();
        let rest = &s[i..];
        Some(rest[..rest.find(close)?].to_string())
    };
    if let Some(ids) = between(kro, "unknown identifiers: [", ']') {
        for id in ids.split_whitespace() {
            out.push(vec![id.to_string()]);
        }
    }
    if let Some(fs) = between(kro, "unknown functions: [", ']') {
        for f in fs.split_whitespace() {
            out.push(vec![f.trim_matches(|c| c == '{' || c == '}').to_string()]);
        }
    }
    if let Some(f) = between(kro, "undefined field '", '\'') {
        out.push(vec![f]);
    }
    if let Some(f) = between(kro, "undeclared reference to '", '\'') {
        out.push(vec![f]);
    }
    if let Some(f) = between(kro, "no matching overload for '", '\'') {
        let op = f.trim_matches('_').replace('_', "");
        out.push(vec![op, "overload".into()]);
    }
    if let Some(t) = between(kro, "returns type \"", '"') {
        out.push(vec![t]);
    }
    if let Some(t) = between(kro, "expected type '", '\'') {
        out.push(vec![t]);
    }
    for (kro_says, word) in [
        ("error parsing regexp", "regexp"),
        ("error during formatting", "formatting"),
        ("omit()", "omit"),
    ] {
        if kro.contains(kro_says) {
            out.push(vec![word.to_string()]);
        }
    }
    out
}

struct Case {
    id: String,
    context: String,
    field: String,
    spec: Value,
    kro: Outcome,
}

fn load() -> (Vec<Case>, BTreeMap<String, String>, Value) {
    let text = std::fs::read_to_string(format!("{DIR}/results.json")).expect("results.json");
    let doc: Value = serde_json::from_str(&text).expect("results.json is JSON");
    let default_spec = doc["spec"].clone();
    let cases = doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            let kro = match c["outcome"].as_str() {
                Some("value") => Outcome::Value(c["value"].clone()),
                Some("omitted") => Outcome::Omitted,
                Some("rejected") => Outcome::Rejected(s("message")),
                Some("failed") => Outcome::Failed(s("message")),
                other => panic!("{}: unknown outcome {other:?}", s("id")),
            };
            Case {
                id: s("id"),
                context: s("context"),
                field: s("field"),
                spec: if c["spec"].is_null() {
                    default_spec.clone()
                } else {
                    c["spec"].clone()
                },
                kro,
            }
        })
        .collect();
    let corpus = std::fs::read_to_string(format!("{DIR}/corpus.txt")).expect("corpus.txt");
    let known = corpus
        .lines()
        .filter_map(|l| l.strip_prefix("@known "))
        .map(|l| {
            let (id, why) = l.split_once(" | ").expect("@known id | reason");
            (id.trim().to_string(), why.trim().to_string())
        })
        .collect();
    (cases, known, doc["schema"].clone())
}

/// The one-field RGD KRO was given for `case`, and what kroxide does with it.
fn kroxide(case: &Case, schema: &Value) -> Outcome {
    let mut status = serde_json::Map::new();
    let mut data = serde_json::Map::new();
    data.insert("_".into(), json!("x"));
    if case.context == "status" {
        status.insert(case.id.clone(), json!(case.field));
    } else {
        data.insert(case.id.clone(), json!(case.field));
    }
    let rgd = json!({
        "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
        "metadata": {"name": "oracle"},
        "spec": {
            "schema": {"apiVersion": "v1alpha1", "kind": "OracleCase", "spec": schema, "status": status},
            "resources": [{"id": "cm", "template": {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "${schema.metadata.name}-cm"}, "data": data}}]
        }
    });
    let loaded = kroxide_model::load_str("oracle.json", &rgd.to_string()).expect("loads");
    let rgd = &loaded[0].rgd;
    let v = validate(rgd);
    if !v.is_valid() {
        return Outcome::Rejected(
            v.errors()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    let instance = json!({
        "apiVersion": "kro.run/v1alpha1", "kind": "OracleCase",
        "metadata": {"name": "oracle", "namespace": "default"},
        "spec": case.spec,
    });
    let p = match plan(rgd, &instance, &PlanOptions::default()) {
        Ok(p) => p,
        Err(PlanError::Graph(d)) => {
            return Outcome::Rejected(
                d.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        }
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    if case.context == "status" {
        let key = format!("status.{}", case.id);
        if let Some(e) = p.errors.get(&key) {
            return Outcome::Failed(e.clone());
        }
        if p.pending.contains_key(&key) {
            return Outcome::Omitted;
        }
        match p.status.get(&case.id) {
            Some(v) => Outcome::Value(v.clone()),
            None => Outcome::Omitted,
        }
    } else {
        let r = p.resource("cm").expect("cm is planned");
        match r.action {
            Action::Fail => Outcome::Failed(r.reason.clone().unwrap_or_default()),
            Action::Wait | Action::Skip => Outcome::Omitted,
            _ => match r.objects.first().and_then(|o| o["data"].get(&case.id)) {
                Some(v) => Outcome::Value(v.clone()),
                None => Outcome::Omitted,
            },
        }
    }
}

/// Why kroxide's outcome differs from KRO's, or None when they agree.
fn differs(kro: &Outcome, ours: &Outcome) -> Option<String> {
    match (kro, ours) {
        (Outcome::Value(a), Outcome::Value(b)) if same_value(a, b) => None,
        (Outcome::Value(a), Outcome::Value(b)) => Some(format!(
            "KRO gave {a} ({}), kroxide {b} ({})",
            json_type(a),
            json_type(b)
        )),
        (Outcome::Omitted, Outcome::Omitted) | (Outcome::Failed(_), Outcome::Failed(_)) => None,
        (Outcome::Rejected(k), Outcome::Rejected(o)) => {
            let missing: Vec<String> = problem_words(k)
                .into_iter()
                .filter(|alts| !alts.iter().any(|w| o.contains(w.as_str())))
                .map(|alts| alts.join(" or "))
                .collect();
            if missing.is_empty() {
                None
            } else {
                Some(format!(
                    "both reject, but kroxide's message does not name {}: KRO: {k}; kroxide: {o}",
                    missing.join(", ")
                ))
            }
        }
        (k, o) => Some(format!("KRO: {k:?}; kroxide: {o:?}")),
    }
}

#[test]
fn kroxide_does_what_kro_did() {
    let (cases, known, schema) = load();
    assert!(cases.len() >= 150, "the corpus has {} cases", cases.len());
    let mut agree = 0;
    let mut unexpected = Vec::new();
    let mut still_differ = Vec::new();
    // KRO_ORACLE_SHOW=id1,id2 prints what KRO and kroxide did with those cases.
    let show = std::env::var("KRO_ORACLE_SHOW").unwrap_or_default();
    for c in &cases {
        let ours = kroxide(c, &schema);
        if show.split(',').any(|s| s == c.id) {
            eprintln!(
                "{}: {}\n  KRO:     {:?}\n  kroxide: {:?}",
                c.id, c.field, c.kro, ours
            );
        }
        match (differs(&c.kro, &ours), known.get(&c.id)) {
            (None, None) => agree += 1,
            (None, Some(_)) => unexpected.push(format!(
                "{}: listed as a known difference, but kroxide now agrees with KRO: remove its @known line",
                c.id
            )),
            (Some(why), None) => unexpected.push(format!("{} `{}`: {why}", c.id, c.field)),
            (Some(_), Some(_)) => still_differ.push(c.id.clone()),
        }
    }
    for id in known.keys() {
        assert!(
            cases.iter().any(|c| &c.id == id),
            "@known {id} is not a recorded case"
        );
    }
    eprintln!(
        "{agree} of {} cases agree with KRO; {} known differences",
        cases.len(),
        still_differ.len()
    );
    assert!(
        unexpected.is_empty(),
        "{} cases differ from KRO:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}
