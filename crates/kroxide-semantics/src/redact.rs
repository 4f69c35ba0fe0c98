//! Secret values never appear in output: a [`Redactor`] learns the values of
//! the Secrets a graph produces and masks them wherever they occur — in
//! planned objects, the echoed instance, status, logs, diffs and errors.

use base64::Engine as _;
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
        // Longest first, so a value is never partly masked by a shorter one.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.secrets.dedup();
    }

    fn add(&mut self, s: &str) {
        if !s.is_empty() && !s.contains("${") {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
