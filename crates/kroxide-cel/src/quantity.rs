//! Kubernetes' CEL `quantity` library (`quantity("500Mi").isLessThan(...)`).
//!
//! A quantity is carried as a CEL map `{"@quantity": "500Mi", "@value":
//! <double>}` so it can flow through this CEL crate's values; comparisons
//! use the decimal value as a double, which is exact for every quantity
//! below 2^53 of its base unit.

use cel::objects::{Key, Map};
use cel::Value;
use std::collections::HashMap;
use std::sync::Arc;

const TAG: &str = "@quantity";
const VAL: &str = "@value";

/// The value of a Kubernetes quantity string (`500Mi`, `1.5`, `100m`, `1e3`).
pub fn parse(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let suffixes: &[(&str, f64)] = &[
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suf, mult) in suffixes {
        if let Some(num) = s.strip_suffix(suf) {
            return number(num).map(|n| n * mult);
        }
    }
    number(s)
}

fn number(s: &str) -> Option<f64> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '+' | '-' | 'e' | 'E'));
    if !ok {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

pub(crate) fn make(s: &str) -> Result<Value, String> {
    let v = parse(s).ok_or_else(|| format!("invalid quantity {s:?}"))?;
    let m: HashMap<Key, Value> = HashMap::from([
        (
            Key::String(Arc::new(TAG.into())),
            Value::String(Arc::new(s.to_string())),
        ),
        (Key::String(Arc::new(VAL.into())), Value::Float(v)),
    ]);
    Ok(Value::Map(Map { map: Arc::new(m) }))
}

/// The quantity of value `v` (the result of `add` and `sub`).
pub(crate) fn from_value(v: f64) -> Result<Value, String> {
    let m: HashMap<Key, Value> = HashMap::from([
        (
            Key::String(Arc::new(TAG.into())),
            Value::String(Arc::new(crate::go::format_g(v))),
        ),
        (Key::String(Arc::new(VAL.into())), Value::Float(v)),
    ]);
    Ok(Value::Map(Map { map: Arc::new(m) }))
}

pub(crate) fn value_of(v: &Value) -> Result<f64, String> {
    if let Value::Map(m) = v {
        if let Some(Value::Float(f)) = m.map.get(&Key::String(Arc::new(VAL.into()))) {
            return Ok(*f);
        }
    }
    Err("expected a quantity".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_kubernetes_quantities() {
        assert_eq!(super::parse("500Mi"), Some(500.0 * 1048576.0));
        assert_eq!(super::parse("1Gi"), Some(1073741824.0));
        assert_eq!(super::parse("100m"), Some(0.1));
        assert_eq!(super::parse("2k"), Some(2000.0));
        assert_eq!(super::parse("1e3"), Some(1000.0));
        assert_eq!(super::parse("x"), None);
        assert_eq!(super::parse(""), None);
    }
}
