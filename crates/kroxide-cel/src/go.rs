//! What KRO's Go runtime does with CEL values: cel-go's `string(double)`
//! (`strconv.FormatFloat(f, 'g', -1, 64)`), Go's `encoding/json` (for
//! `json.marshal`), and the conversion of a result into an unstructured
//! object field, which fails for bytes, uint and the Kubernetes library types.

use crate::k8s_types;
use cel::objects::{Key, OptionalValue};
use cel::Value;

/// The shortest decimal digits of `f` (finite, non-zero, positive) and the
/// decimal point position: `f = 0.d1d2... × 10^dp`.
fn digits(f: f64) -> (String, i32) {
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    let d: String = mant.chars().filter(char::is_ascii_digit).collect();
    (d, exp + 1)
}

fn special(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else if f == 0.0 {
        Some(if f.is_sign_negative() { "-0" } else { "0" }.into())
    } else {
        None
    }
}

/// Go's `%e` with the shortest digits: `1.5e+10`, `1e-06`.
fn fmt_e(neg: bool, d: &str, dp: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(&d[..1]);
    if d.len() > 1 {
        s.push('.');
        s.push_str(&d[1..]);
    }
    let exp = dp - 1;
    s.push('e');
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        s.push('0');
    }
    s.push_str(&a.to_string());
    s
}

/// Go's `%f` with the shortest digits.
fn fmt_f(neg: bool, d: &str, dp: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if dp <= 0 {
        s.push_str("0.");
        s.push_str(&"0".repeat(dp.unsigned_abs() as usize));
        s.push_str(d);
    } else {
        let dp = dp as usize;
        if d.len() <= dp {
            s.push_str(d);
            s.push_str(&"0".repeat(dp - d.len()));
        } else {
            s.push_str(&d[..dp]);
            s.push('.');
            s.push_str(&d[dp..]);
        }
    }
    s
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`: what cel-go's `string(double)` gives.
pub fn format_g(f: f64) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    let (d, dp) = digits(f.abs());
    let exp = dp - 1;
    if !(-4..6).contains(&exp) {
        fmt_e(f < 0.0, &d, dp)
    } else {
        fmt_f(f < 0.0, &d, dp)
    }
}

/// A float64 as Go's `encoding/json` writes it: `2`, `0.000001`, `1e+21`, `1e-7`.
pub fn json_float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!(
            "json: unsupported value: {}",
            special(f).unwrap_or_default()
        ));
    }
    if f == 0.0 {
        return Ok(if f.is_sign_negative() { "-0" } else { "0" }.into());
    }
    let (d, dp) = digits(f.abs());
    let a = f.abs();
    if !(1e-6..1e21).contains(&a) {
        let s = fmt_e(f < 0.0, &d, dp);
        // Go cleans up e-09 to e-9 (and only that).
        if let Some((m, e)) = s.split_once("e-0") {
            return Ok(format!("{m}e-{e}"));
        }
        Ok(s)
    } else {
        Ok(fmt_f(f < 0.0, &d, dp))
    }
}

/// A string as Go's `encoding/json` writes it (HTML-safe).
fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn key_string(k: &Key) -> String {
    match k {
        Key::String(s) => s.to_string(),
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
    }
}

/// KRO's `json.marshal`: Go's `json.Marshal` of the value's native form
/// (map keys sorted, bytes base64, floats as Go writes them, `<>&` escaped).
pub fn json_marshal(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    marshal(v, &mut out)?;
    Ok(out)
}

fn marshal(v: &Value, out: &mut String) -> Result<(), String> {
    use base64::Engine as _;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::UInt(u) => out.push_str(&u.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::String(s) => json_string(s, out),
        Value::Bytes(b) => json_string(
            &base64::engine::general_purpose::STANDARD.encode(b.as_slice()),
            out,
        ),
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                marshal(x, out)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            if let Some(kind) = k8s_types::kind_of(v) {
                return Err(format!(
                    "json.marshal failed to convert value: unsupported type {}",
                    go_type(kind)
                ));
            }
            let mut entries: Vec<(String, &Value)> =
                m.map.iter().map(|(k, v)| (key_string(k), v)).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(&k, out);
                out.push(':');
                marshal(x, out)?;
            }
            out.push('}');
        }
        other => {
            return Err(format!(
                "json.marshal failed to convert value: unsupported type {}",
                other.type_of()
            ))
        }
    }
    Ok(())
}

/// The Go type KRO names for a Kubernetes library value.
fn go_type(kind: &str) -> &'static str {
    match kind {
        "quantity" => "kubernetes.Quantity",
        "ip" => "net.IP",
        "cidr" => "net.IPNet",
        "url" => "kubernetes.URL",
        _ => "kubernetes.Semver",
    }
}

/// The JSON KRO writes into an object field for a CEL result: an optional is
/// unwrapped, a whole double is written as Go writes it (`2`, not `2.0`), and
/// the values KRO cannot put into an unstructured object fail (bytes and
/// uint: "cannot deep copy"; maps with non-string keys; the Kubernetes
/// library types: "unsupported type").
pub fn field_json(v: &Value) -> Result<serde_json::Value, String> {
    field_json_for(v, kroxide_model::KroVersion::V0_9_3)
}

/// [`field_json`] as `kro` writes it: KRO main (`EnsureJSONSafe` in
/// pkg/cel/conversion) writes a uint that fits in an int64 as that int and
/// refuses a bigger one and bytes with a message, where v0.9.3's deep copy
/// fails on any.
pub fn field_json_for(
    v: &Value,
    kro: kroxide_model::KroVersion,
) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    let main = kro.is_main();
    let field_json = |x: &Value| field_json_for(x, kro);
    Ok(match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::UInt(u) if main => match i64::try_from(*u) {
            Ok(i) => J::from(i),
            Err(_) => return Err(format!("unsupported type: uint value {u} overflows int64; convert it explicitly, e.g. string(...)")),
        },
        Value::Bytes(_) if main => return Err("unsupported type: bytes value cannot be used directly in a resource template or status field; encode it explicitly, e.g. base64.encode(...)".into()),
        Value::UInt(_) => return Err("cannot deep copy uint64".into()),
        Value::Float(f) => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18 {
                J::from(*f as i64)
            } else {
                serde_json::Number::from_f64(*f)
                    .map(J::Number)
                    .ok_or_else(|| format!("cannot write {f} as JSON"))?
            }
        }
        Value::String(s) => J::String(s.to_string()),
        Value::Bytes(_) => return Err("cannot deep copy []uint8".into()),
        Value::List(l) => J::Array(l.iter().map(field_json).collect::<Result<_, _>>()?),
        Value::Map(m) => {
            if let Some(kind) = k8s_types::kind_of(v) {
                return Err(format!("unsupported type: {}", go_type(kind)));
            }
            let mut o = serde_json::Map::new();
            for (k, x) in m.map.iter() {
                match k {
                    Key::String(s) => {
                        o.insert(s.to_string(), field_json(x)?);
                    }
                    Key::Int(_) => return Err("map key must be string, got int64".into()),
                    Key::Uint(_) => return Err("map key must be string, got uint64".into()),
                    Key::Bool(_) => return Err("map key must be string, got bool".into()),
                }
            }
            J::Object(o)
        }
        Value::Duration(d) => J::String(duration(
            d.num_nanoseconds().ok_or("a duration too long to write")?,
        )),
        Value::Timestamp(_) => match crate::macros::stdlib_string(v)? {
            Value::String(t) => J::String(t.to_string()),
            _ => return Err("a timestamp that cannot be written".into()),
        },
        Value::Opaque(o) => match o.downcast_ref::<OptionalValue>() {
            Some(opt) => match opt.value() {
                Some(x) => field_json(x)?,
                None => J::Null,
            },
            None => return Err(format!("unsupported type: {}", v.type_of())),
        },
        other => other
            .json()
            .map_err(|e| format!("result cannot be written as JSON: {e}"))?,
    })
}

/// Go's `time.Duration.String()`: `1h30m0s`, `1.5s`, `500ms`, `0s`.
pub fn duration(nanos: i64) -> String {
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let frac = |rem: u64, width: usize| {
        if rem == 0 {
            String::new()
        } else {
            format!(".{rem:0width$}").trim_end_matches('0').to_string()
        }
    };
    let body = if u == 0 {
        "0s".to_string()
    } else if u < 1_000_000_000 {
        let (unit, div, width) = if u < 1_000 {
            ("ns", 1, 0)
        } else if u < 1_000_000 {
            ("\u{b5}s", 1_000, 3)
        } else {
            ("ms", 1_000_000, 6)
        };
        format!("{}{}{unit}", u / div, frac(u % div, width))
    } else {
        let secs = u / 1_000_000_000;
        let (h, m, sec) = (secs / 3600, secs % 3600 / 60, secs % 60);
        let mut out = String::new();
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{sec}{}s", frac(u % 1_000_000_000, 9)));
        out
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (n, s) in [
            (5_400_000_000_000, "1h30m0s"),
            (1_500_000_000, "1.5s"),
            (61_000_000_000, "1m1s"),
            (500_000_000, "500ms"),
            (1_500, "1.5\u{b5}s"),
            (7, "7ns"),
            (0, "0s"),
            (-90_000_000_000, "-1m30s"),
        ] {
            assert_eq!(duration(n), s, "{n}");
        }
    }

    #[test]
    fn go_float_formats() {
        for (f, g, j) in [
            (1e21, "1e+21", "1e+21"),
            (1.5e10, "1.5e+10", "15000000000"),
            (1e-6, "1e-06", "0.000001"),
            (1e-7, "1e-07", "1e-7"),
            (100000.0, "100000", "100000"),
            (1000000.0, "1e+06", "1000000"),
            (123456789.0, "1.23456789e+08", "123456789"),
            (-0.00012, "-0.00012", "-0.00012"),
            (2.0, "2", "2"),
            (2.5, "2.5", "2.5"),
            (1.0 / 3.0, "0.3333333333333333", "0.3333333333333333"),
            (1e20, "1e+20", "100000000000000000000"),
        ] {
            assert_eq!(format_g(f), g, "{f}");
            assert_eq!(json_float(f).unwrap(), j, "{f}");
        }
    }
}
