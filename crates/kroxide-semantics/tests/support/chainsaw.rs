//! Chainsaw's partial match, to compare kroxide's output with the objects
//! KRO's own end-to-end tests expect. Test support only (shared by the
//! fixture suites with `#[path]`): not part of the crate's API.
//!
//! Every field of the expectation must be in the actual value with an equal
//! value; maps may have more fields; lists must have the same length and
//! match element by element. Keys written `(expr)` are chainsaw JMESPath
//! projections and are skipped.

use serde_json::Value;

/// `Ok` when `actual` has everything `expected` has.
pub fn partial_match(expected: &Value, actual: &Value) -> Result<(), String> {
    go(expected, actual, "")
}

fn go(e: &Value, a: &Value, path: &str) -> Result<(), String> {
    match (e, a) {
        (Value::Object(em), Value::Object(am)) => {
            for (k, ev) in em {
                if k.starts_with('(') {
                    continue;
                }
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match am.get(k) {
                    Some(av) => go(ev, av, &p)?,
                    None => return Err(format!("{p}: missing (expected {ev})")),
                }
            }
            Ok(())
        }
        (Value::Array(ea), Value::Array(aa)) => {
            if ea.len() != aa.len() {
                return Err(format!(
                    "{path}: expected {} items, got {}",
                    ea.len(),
                    aa.len()
                ));
            }
            for (i, (x, y)) in ea.iter().zip(aa).enumerate() {
                go(x, y, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => Ok(()),
        _ if e == a => Ok(()),
        _ => Err(format!("{path}: expected {e}, got {a}")),
    }
}

#[test]
fn more_fields_match_and_a_different_element_does_not() {
    use serde_json::json;
    assert!(partial_match(&json!({"a": {"b": 1}}), &json!({"a": {"b": 1, "c": 2}})).is_ok());
    assert_eq!(
        partial_match(&json!({"a": [1]}), &json!({"a": [2]})).unwrap_err(),
        "a[0]: expected 1, got 2"
    );
}
