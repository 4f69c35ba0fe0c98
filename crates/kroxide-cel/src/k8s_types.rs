//! Kubernetes' CEL libraries beyond quantity: `url`, `ip`, `cidr`,
//! `semver`, and the regex `find`/`findAll`.
//!
//! Their values travel through this CEL crate as maps tagged
//! `{"@type": "url", ...}` (quantities carry `@quantity`), so member
//! functions such as `getHost()` or `isLessThan()` can tell them apart.

use cel::objects::{Key, Map};
use cel::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

const TYPE: &str = "@type";

fn key(k: &str) -> Key {
    Key::String(Arc::new(k.to_string()))
}

fn s(v: &str) -> Value {
    Value::String(Arc::new(v.to_string()))
}

fn tagged(kind: &str, fields: Vec<(&str, Value)>) -> Value {
    let mut m: HashMap<Key, Value> = fields.into_iter().map(|(k, v)| (key(k), v)).collect();
    m.insert(key(TYPE), s(kind));
    Value::Map(Map { map: Arc::new(m) })
}

fn field<'a>(v: &'a Value, kind: &str, f: &str) -> Result<&'a Value, String> {
    if let Value::Map(m) = v {
        if m.map.get(&key(TYPE)) == Some(&s(kind)) {
            return m
                .map
                .get(&key(f))
                .ok_or_else(|| format!("malformed {kind} value"));
        }
    }
    Err(format!("expected a {kind}"))
}

/// The tag of a tagged value (`url`, `ip`, `cidr`, `semver`, or `quantity`).
pub(crate) fn kind_of(v: &Value) -> Option<&'static str> {
    let Value::Map(m) = v else { return None };
    if m.map.contains_key(&key("@quantity")) {
        return Some("quantity");
    }
    match m.map.get(&key(TYPE)) {
        Some(Value::String(t)) => ["url", "ip", "cidr", "semver"]
            .into_iter()
            .find(|k| **k == **t),
        _ => None,
    }
}

fn str_field(v: &Value, kind: &str, f: &str) -> Result<String, String> {
    match field(v, kind, f)? {
        Value::String(x) => Ok(x.to_string()),
        _ => Err(format!("malformed {kind} value")),
    }
}

// ---------------------------------------------------------------- url

/// Parses an absolute URL (or a path), as Go's `url.Parse` would for the
/// parts the library exposes.
pub(crate) fn parse_url(u: &str) -> Result<Value, String> {
    let bad = || format!("URL parse error: {u:?}");
    if u.is_empty() || u.contains(char::is_whitespace) {
        return Err(bad());
    }
    let (scheme, rest) = match u.split_once("://") {
        Some((sch, rest))
            if !sch.is_empty()
                && sch
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (sch.to_string(), rest)
        }
        Some(_) => return Err(bad()),
        None if u.starts_with('/') => (String::new(), u),
        None => return Err(bad()),
    };
    let (authority, path_query) = if scheme.is_empty() {
        ("", rest)
    } else {
        match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        }
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (hostname, port) = if let Some(h) = host.strip_prefix('[') {
        let (h6, after) = h.split_once(']').ok_or_else(bad)?;
        (
            h6.to_string(),
            after.strip_prefix(':').unwrap_or("").to_string(),
        )
    } else {
        match host.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h.to_string(), p.to_string()),
            _ => (host.to_string(), String::new()),
        }
    };
    let without_fragment = path_query.split('#').next().unwrap_or("");
    let (path, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let mut q: HashMap<Key, Vec<Value>> = HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        q.entry(key(k)).or_default().push(s(v));
    }
    let qmap: HashMap<Key, Value> = q
        .into_iter()
        .map(|(k, v)| (k, Value::List(Arc::new(v))))
        .collect();
    Ok(tagged(
        "url",
        vec![
            ("scheme", s(&scheme)),
            ("host", s(host)),
            ("hostname", s(&hostname)),
            ("port", s(&port)),
            ("path", s(path)),
            (
                "query",
                Value::Map(Map {
                    map: Arc::new(qmap),
                }),
            ),
        ],
    ))
}

pub(crate) fn url_get(v: &Value, part: &str) -> Result<Value, String> {
    Ok(field(v, "url", part)?.clone())
}

// ---------------------------------------------------------------- ip / cidr

pub(crate) fn parse_ip(t: &str) -> Result<Value, String> {
    // Kubernetes rejects zones and IPv4-mapped IPv6 forms it cannot canonicalize.
    let ip: IpAddr = t
        .parse()
        .map_err(|_| format!("IP Address {t:?} parse error"))?;
    if let IpAddr::V6(v6) = ip {
        if v6.to_ipv4_mapped().is_some() {
            return Err(format!("IPv4-mapped IPv6 address {t:?} is not allowed"));
        }
    }
    Ok(tagged("ip", vec![("value", s(&ip.to_string()))]))
}

/// The canonical text of an ip value.
pub(crate) fn ip_string(v: &Value) -> Result<String, String> {
    str_field(v, "ip", "value")
}

fn ip_of(v: &Value) -> Result<IpAddr, String> {
    if let Value::String(t) = v {
        return t
            .parse()
            .map_err(|_| format!("IP Address {t:?} parse error"));
    }
    str_field(v, "ip", "value")?
        .parse()
        .map_err(|_| "malformed ip value".to_string())
}

pub(crate) fn ip_method(v: &Value, m: &str) -> Result<Value, String> {
    let ip = ip_of(v)?;
    Ok(match m {
        "family" => Value::Int(if ip.is_ipv4() { 4 } else { 6 }),
        "isUnspecified" => Value::Bool(ip.is_unspecified()),
        "isLoopback" => Value::Bool(ip.is_loopback()),
        "isLinkLocalMulticast" => Value::Bool(match ip {
            IpAddr::V4(a) => a.octets()[0] == 224 && a.octets()[1] == 0 && a.octets()[2] == 0,
            IpAddr::V6(a) => a.segments()[0] & 0xff0f == 0xff02,
        }),
        "isLinkLocalUnicast" => Value::Bool(match ip {
            IpAddr::V4(a) => a.is_link_local(),
            IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
        }),
        "isGlobalUnicast" => Value::Bool(match ip {
            IpAddr::V4(a) => {
                !(a.is_unspecified()
                    || a.is_loopback()
                    || a.is_link_local()
                    || a.is_multicast()
                    || a.is_broadcast())
            }
            IpAddr::V6(a) => {
                !(a.is_unspecified()
                    || a.is_loopback()
                    || a.is_multicast()
                    || a.segments()[0] & 0xffc0 == 0xfe80)
            }
        }),
        _ => return Err(format!("unknown ip method {m}")),
    })
}

fn split_cidr(t: &str) -> Result<(IpAddr, u8), String> {
    let err = || format!("network address {t:?} parse error");
    let (a, p) = t.split_once('/').ok_or_else(err)?;
    let ip: IpAddr = a.parse().map_err(|_| err())?;
    let p: u8 = p.parse().map_err(|_| err())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if p > max {
        return Err(err());
    }
    Ok((ip, p))
}

pub(crate) fn parse_cidr(t: &str) -> Result<Value, String> {
    split_cidr(t)?;
    Ok(tagged("cidr", vec![("value", s(t))]))
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

fn mask(n: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let keep = !0u128 << (width - prefix);
    let all = if width == 128 {
        !0u128
    } else {
        (1u128 << width) - 1
    };
    n & keep & all
}

fn cidr_of(v: &Value) -> Result<(IpAddr, u8), String> {
    match v {
        Value::String(t) => split_cidr(t),
        _ => split_cidr(&str_field(v, "cidr", "value")?),
    }
}

pub(crate) fn cidr_contains_ip(c: &Value, ip: &Value) -> Result<Value, String> {
    let (net, p) = cidr_of(c)?;
    let ip = ip_of(ip)?;
    let ((n, w), (i, wi)) = (bits(net), bits(ip));
    Ok(Value::Bool(w == wi && mask(n, w, p) == mask(i, w, p)))
}

pub(crate) fn cidr_contains_cidr(c: &Value, other: &Value) -> Result<Value, String> {
    let (net, p) = cidr_of(c)?;
    let (onet, op) = cidr_of(other)?;
    let ((n, w), (o, wo)) = (bits(net), bits(onet));
    Ok(Value::Bool(
        w == wo && op >= p && mask(n, w, p) == mask(o, w, p),
    ))
}

pub(crate) fn cidr_method(c: &Value, m: &str) -> Result<Value, String> {
    let (net, p) = cidr_of(c)?;
    Ok(match m {
        "prefixLength" => Value::Int(i64::from(p)),
        "ip" => tagged("ip", vec![("value", s(&net.to_string()))]),
        "masked" => {
            let (n, w) = bits(net);
            let m = mask(n, w, p);
            let ip: IpAddr = if w == 32 {
                IpAddr::V4((m as u32).into())
            } else {
                IpAddr::V6(m.into())
            };
            tagged("cidr", vec![("value", s(&format!("{ip}/{p}")))])
        }
        _ => return Err(format!("unknown cidr method {m}")),
    })
}

// ---------------------------------------------------------------- semver

fn split_semver(t: &str) -> Option<(u64, u64, u64, String)> {
    let t = t.strip_prefix('v').unwrap_or(t);
    let (core, rest) = match t.find(['-', '+']) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || (p.len() > 1 && p.starts_with('0')))
    {
        return None;
    }
    let n: Vec<u64> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let pre = rest
        .strip_prefix('-')
        .map(|r| r.split('+').next().unwrap_or("").to_string())
        .unwrap_or_default();
    Some((n[0], n[1], n[2], pre))
}

pub(crate) fn parse_semver(t: &str) -> Result<Value, String> {
    split_semver(t).ok_or_else(|| format!("invalid semver {t:?}"))?;
    Ok(tagged("semver", vec![("value", s(t))]))
}

pub(crate) fn is_semver(t: &str) -> bool {
    split_semver(t).is_some()
}

fn semver_of(v: &Value) -> Result<(u64, u64, u64, String), String> {
    let t = str_field(v, "semver", "value")?;
    split_semver(&t).ok_or_else(|| "malformed semver value".into())
}

pub(crate) fn semver_part(v: &Value, i: usize) -> Result<Value, String> {
    let (a, b, c, _) = semver_of(v)?;
    Ok(Value::Int([a, b, c][i] as i64))
}

fn semver_cmp(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    let (x, y) = (semver_of(a)?, semver_of(b)?);
    let core = (x.0, x.1, x.2).cmp(&(y.0, y.1, y.2));
    if core != std::cmp::Ordering::Equal {
        return Ok(core);
    }
    // A pre-release sorts before the release.
    Ok(match (x.3.is_empty(), y.3.is_empty()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) => x.3.cmp(&y.3),
    })
}

/// `compareTo` for quantities and semvers.
pub(crate) fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (kind_of(a), kind_of(b)) {
        (Some("semver"), Some("semver")) => semver_cmp(a, b),
        (Some("quantity"), Some("quantity")) => {
            let (x, y) = (crate::quantity::value_of(a)?, crate::quantity::value_of(b)?);
            Ok(x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal))
        }
        (x, y) => Err(format!(
            "cannot compare {} with {}",
            x.unwrap_or("this value"),
            y.unwrap_or("this value")
        )),
    }
}

// ---------------------------------------------------------------- regex

pub(crate) fn find(text: &str, re: &str, n: Option<i64>) -> Result<Value, String> {
    let r = regex::Regex::new(re).map_err(|e| format!("invalid regex {re:?}: {e}"))?;
    Ok(match n {
        None => s(r.find(text).map_or("", |m| m.as_str())),
        Some(n) => {
            let it = r.find_iter(text).map(|m| s(m.as_str()));
            let v: Vec<Value> = if n < 0 {
                it.collect()
            } else {
                it.take(n as usize).collect()
            };
            Value::List(Arc::new(v))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert!(
            is_semver("1.2.3")
                && is_semver("v1.2.3-rc.1")
                && !is_semver("1.2")
                && !is_semver("01.2.3")
        );
        let a = parse_semver("1.2.3").unwrap();
        let b = parse_semver("1.10.0").unwrap();
        assert_eq!(compare(&a, &b).unwrap(), std::cmp::Ordering::Less);
        assert!(parse_url("not a url").is_err());
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert_eq!(
            cidr_contains_ip(&parse_cidr("10.0.0.0/8").unwrap(), &s("10.1.2.3")).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            cidr_contains_ip(&parse_cidr("10.0.0.0/8").unwrap(), &s("11.1.2.3")).unwrap(),
            Value::Bool(false)
        );
    }
}
