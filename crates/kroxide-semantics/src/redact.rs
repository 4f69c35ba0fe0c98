//! Secret values never appear in output: a [`Redactor`] learns the values of
//! the Secrets a graph produces and masks them wherever they occur — in
//! planned objects, the echoed instance, status, logs, diffs and errors.

use crate::cel::default_engine;
use crate::expr::{has_expression_start, parse_string};
use base64::Engine as _;
use kroxide_model::ResourceGraphDefinition;
use serde_json::Value;

/// What a masked value is replaced with.
pub const MASK: &str = "<redacted: use --show-secrets>";

/// Masks known secret values.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Learns the values of every Secret among `objects` (`stringData` as
    /// is, `data` both encoded and decoded).
    pub fn learn<'a>(&mut self, objects: impl IntoIterator<Item = &'a Value>) {
        for o in objects {
            if o.get("kind").and_then(Value::as_str) != Some("Secret") {
                continue;
            }
            if let Some(Value::Object(m)) = o.get("stringData") {
                for v in m.values().filter_map(Value::as_str) {
                    self.add(v);
                }
            }
            if let Some(Value::Object(m)) = o.get("data") {
                for v in m.values().filter_map(Value::as_str) {
                    self.add(v);
                    if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(v) {
                        if let Ok(s) = String::from_utf8(raw) {
                            self.add(&s);
                        }
                    }
                }
            }
        }
        self.settle();
    }

    /// Learns the instance values that feed a Secret: whatever the
    /// `data`/`stringData` of a Secret template reads from `schema.spec`.
    /// Used where no Secret was rendered to learn from, e.g. to mask an
    /// instance validation error that echoes a password.
    pub fn learn_secret_inputs(&mut self, rgd: &ResourceGraphDefinition, instance: &Value) {
        let Some(spec) = instance.get("spec") else {
            return;
        };
        let templates = rgd
            .spec
            .resources
            .iter()
            .filter_map(|r| r.template.as_ref());
        for t in templates.filter(|t| t.get("kind").and_then(Value::as_str) == Some("Secret")) {
            let mut texts = Vec::new();
            for field in ["data", "stringData"] {
                if let Some(v) = t.get(field) {
                    string_leaves(v, &mut texts);
                }
            }
            for text in texts {
                for path in spec_reads(text) {
                    if let Some(v) = lookup(spec, &path) {
                        let mut values = Vec::new();
                        string_leaves(v, &mut values);
                        values.iter().for_each(|s| self.add(s));
                    }
                }
            }
        }
        self.settle();
    }

    /// Longest first, so a value is never partly masked by a shorter one.
    fn settle(&mut self) {
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.secrets.dedup();
    }

    fn add(&mut self, s: &str) {
        if !s.is_empty() && !has_expression_start(s) {
            self.secrets.push(s.to_string());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `s` with every known secret value masked.
    pub fn redact_str(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.secrets {
            // Very short values are masked only as whole strings, so that
            // e.g. a secret "1" does not mangle every number in the output.
            if secret.len() < 4 {
                if out == *secret {
                    out = MASK.to_string();
                }
            } else if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// Masks every string (and map key) inside `v`.
    pub fn redact_value(&self, v: &mut Value) {
        if self.secrets.is_empty() {
            return;
        }
        match v {
            Value::String(s) => *s = self.redact_str(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.redact_value(x)),
            Value::Object(m) => {
                let entries: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
                for (k, mut x) in entries {
                    self.redact_value(&mut x);
                    m.insert(self.redact_str(&k), x);
                }
            }
            _ => {}
        }
    }
}

fn string_leaves<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| string_leaves(x, out)),
        Value::Object(m) => m.values().for_each(|x| string_leaves(x, out)),
        _ => {}
    }
}

/// The paths under `schema.spec` that the expressions of `text` read, as
/// the CEL parser sees them (`schema.spec.db.password`,
/// `schema.spec["db"]`, `has(schema.spec.x)` alike). An expression that
/// does not parse counts as reading the whole spec.
fn spec_reads(text: &str) -> Vec<Vec<String>> {
    let whole = || vec![Vec::new()];
    let Ok(value) = parse_string(text) else {
        return whole();
    };
    let mut out = Vec::new();
    for e in value.expressions() {
        let Ok(program) = default_engine().compile(e) else {
            return whole();
        };
        for r in &program.info().references {
            match r.path.split_first() {
                _ if r.root != "schema" => {}
                // `schema` or `schema.spec` itself: all of it.
                None => out.push(Vec::new()),
                Some((first, rest)) if first == "spec" => out.push(rest.to_vec()),
                Some(_) => {}
            }
        }
    }
    out
}

/// The value at `path` under `spec` (all of it for an empty path), or at its
/// deepest existing prefix; None if even the first step is missing.
fn lookup<'a>(spec: &'a Value, path: &[String]) -> Option<&'a Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(spec);
    };
    let mut cur = spec.get(first)?;
    for key in rest {
        match cur.get(key) {
            Some(next) => cur = next,
            None => break,
        }
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn learns_the_instance_values_that_feed_secrets() {
        let text = r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: s}
spec:
  schema: {apiVersion: v1alpha1, kind: S}
  resources:
    - id: creds
      template:
        apiVersion: v1
        kind: Secret
        metadata: {name: creds}
        stringData:
          password: ${schema.spec.db.password}
          token: "${schema.spec.tokens[0]}"
          size: ${string(schema.spec.apiKey.size())}
          bracket: ${schema.spec["bracketKey"]}
          url: "postgres://u:${schema.spec.conn[\"pw\"]}@db"
    - id: cm
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: cm}
        data: {user: "${schema.spec.db.user}"}
"#;
        let rgd = kroxide_model::load_str("s.yaml", text)
            .unwrap()
            .remove(0)
            .rgd;
        let instance = json!({"spec": {
            "db": {"password": "hunter22", "user": "admin-user"},
            "tokens": ["tok-one", "tok-two"],
            "apiKey": "key-1234",
            "bracketKey": "bracket-secret-1",
            "conn": {"pw": "conn-pw-77", "host": "db-host"},
        }});
        let mut r = Redactor::default();
        r.learn_secret_inputs(&rgd, &instance);
        let msg = "spec.db.password: \"hunter22\" does not match; tok-two, key-1234; user admin-user; bracket-secret-1 conn-pw-77 db-host";
        assert_eq!(
            r.redact_str(msg),
            format!("spec.db.password: \"{MASK}\" does not match; {MASK}, {MASK}; user admin-user; {MASK} {MASK} db-host")
        );
    }

    #[test]
    fn masks_values_everywhere() {
        let mut r = Redactor::default();
        r.learn([&json!({"kind": "Secret", "stringData": {"p": "hunter22"}, "data": {"q": "c2VjcmV0LXE="}})]);
        let mut v = json!({"spec": {"password": "hunter22", "url": "http://u:hunter22@db"}, "x": ["secret-q"], "n": 1});
        r.redact_value(&mut v);
        assert_eq!(v["spec"]["password"], MASK);
        assert_eq!(v["spec"]["url"], format!("http://u:{MASK}@db"));
        assert_eq!(v["x"][0], MASK);
        assert_eq!(v["n"], 1);
        assert!(!v.to_string().contains("hunter22"));
    }
}
